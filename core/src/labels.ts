/** Labels, tenants and stream ids: the identity of a stream, shared by every service. */
import { createHash } from 'node:crypto';

/** A stream's labels: name → value. */
export type Labels = Record<string, string>;

/** Tenant names allowed by the data model. */
export const TENANT_RE = /^[a-zA-Z0-9_.-]{1,64}$/;
/** Label names allowed by the data model (Prometheus/Loki rules). */
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Labels sorted by name, the canonical form hashed into a stream id and stored in blocks. */
export function sortedLabelPairs(labels: Labels): [string, string][] {
  return Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]!]);
}

/** Canonical text of a label set, `{a="1",b="2"}` with names sorted and values escaped as in LogQL. */
export function labelsKey(labels: Labels): string {
  return '{' + sortedLabelPairs(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',') + '}';
}

/** Stream ids most recently computed, by their hashed text; two generations, so a full one is dropped without losing the hot ids. */
const ID_CACHE_SIZE = 8192;
let recentIds = new Map<string, bigint>();
let olderIds = new Map<string, bigint>();

/** The stable 64-bit stream id of a tenant and a label set (first 8 bytes of SHA-256, big-endian). */
export function streamId(tenant: string, labels: Labels): bigint {
  // The hashed text itself keys the cache: SHA-256 costs several native calls per label, a lookup one.
  let text = tenant + '\0';
  for (const [k, v] of sortedLabelPairs(labels)) text += k + '\0' + v + '\0';
  let id = recentIds.get(text);
  if (id !== undefined) return id;
  id = olderIds.get(text) ?? createHash('sha256').update(text).digest().readBigUInt64BE(0);
  if (recentIds.size >= ID_CACHE_SIZE) {
    olderIds = recentIds;
    recentIds = new Map();
  }
  recentIds.set(text, id);
  return id;
}
