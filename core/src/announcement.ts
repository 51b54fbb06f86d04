/**
 * What processes announce on `silt.nodes`: a storage node (key = node id) what it holds — the query
 * service's map of who holds what — and an ingest process (key = `ingest/<id>`) that it is alive,
 * so ingest processes can share a tenant's rate among themselves.
 */

/** One partition as a node holds it. */
export interface PartitionHolding {
  partition: number;
  /** Next offset the node will apply (everything below is stored), decimal string. */
  appliedOffset: string;
  /** Oldest and newest entry timestamps held, ns as decimal strings; null when empty. */
  minTs: string | null;
  maxTs: string | null;
  /** True until the node has reached the head it saw when it gained the partition. */
  catchingUp: boolean;
}

/** The value of a node's record on `silt.nodes`; a tombstone (null value) means the node left cleanly. */
export interface NodeAnnouncement {
  version: 1;
  nodeId: string;
  replicaGroup: number;
  /** Base URL of the node's internal read API. */
  url: string;
  partitions: PartitionHolding[];
  /**
   * Partitions the node stored but no longer owns, frozen at their applied offset and still readable:
   * after a rebalance they bridge the time until the new owner has caught up. Empty when absent.
   */
  released: PartitionHolding[];
  /** Wall-clock ms when this was sent; lets readers drop nodes that stopped announcing. */
  sentAt: number;
}

/** Parses an announcement value; returns null for tombstones and for anything malformed (never trusted blindly). */
export function parseAnnouncement(value: Buffer | null): NodeAnnouncement | null {
  if (value === null || value.length === 0) return null;
  let v: unknown;
  try {
    v = JSON.parse(value.toString('utf8'));
  } catch {
    return null;
  }
  const a = v as NodeAnnouncement;
  if (a === null || typeof a !== 'object' || a.version !== 1 || typeof a.nodeId !== 'string' || typeof a.url !== 'string') return null;
  if (!Number.isInteger(a.replicaGroup) || !Array.isArray(a.partitions) || typeof a.sentAt !== 'number') return null;
  if (a.released === undefined) return { ...a, released: [] };
  return Array.isArray(a.released) ? a : null;
}

/** Key prefix of ingest processes' announcements. */
export const INGEST_KEY_PREFIX = 'ingest/';

/** The value of an ingest process's record on `silt.nodes`. */
export interface IngestAnnouncement {
  version: 1;
  kind: 'ingest';
  id: string;
  /** Wall-clock ms when this was sent. */
  sentAt: number;
}

/** Parses an ingest announcement; null for tombstones and anything malformed. */
export function parseIngestAnnouncement(value: Buffer | null): IngestAnnouncement | null {
  if (value === null || value.length === 0) return null;
  try {
    const a = JSON.parse(value.toString('utf8')) as IngestAnnouncement;
    return a !== null && typeof a === 'object' && a.version === 1 && a.kind === 'ingest' && typeof a.id === 'string' && typeof a.sentAt === 'number' ? a : null;
  } catch {
    return null;
  }
}
