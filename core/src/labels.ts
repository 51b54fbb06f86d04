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

/** The stable 64-bit stream id of a tenant and a label set (first 8 bytes of SHA-256, big-endian). */
export function streamId(tenant: string, labels: Labels): bigint {
  const h = createHash('sha256');
  h.update(tenant);
  h.update('\0');
  for (const [k, v] of sortedLabelPairs(labels)) {
    h.update(k);
    h.update('\0');
    h.update(v);
    h.update('\0');
  }
  return h.digest().readBigUInt64BE(0);
}
