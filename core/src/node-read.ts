/** The wire form of one entry in a storage node's read answer (NDJSON), shared by the node that writes it and the query service that reads it. */

/** One entry line of `GET /internal/v1/read`: its place in the read order, then its content. */
export interface NodeReadEntry {
  /** Timestamp, ns as a decimal string. */
  ts: string;
  /** Stream id, decimal. */
  sid: string;
  /** Partition, offset (decimal), frame and index: the entry's place in Kafka. */
  p: number;
  o: string;
  f: number;
  i: number;
  labels: Record<string, string>;
  line: string;
  attrs?: Record<string, string>;
}
