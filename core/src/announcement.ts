/** What a storage node announces on `silt.nodes` (key = node id): the query service's map of who holds what. */

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
