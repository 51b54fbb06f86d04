/**
 * Query cursors: the position of the last entry returned and the per-partition Kafka offsets the
 * first page read up to, so later pages read the same snapshot (DESIGN "Cursors as snapshots").
 * Opaque to clients: base64url of a small JSON document, bound to the query it came from.
 */
import { createHash } from 'node:crypto';
import { BadRequestError } from '../../../core/src/errors';
import { formatOffsets, formatPosition, parseOffsets, parsePosition, type EntryPosition } from '../../../core/src/position';

/** What a cursor carries. */
export interface QueryCursor {
  after: EntryPosition;
  snapshot: Map<number, bigint>;
}

/** What a cursor is bound to: the same tenant, query, range and direction. */
export interface CursorScope {
  tenant: string;
  query: string;
  start: bigint;
  end: bigint;
  direction: string;
}

function fingerprint(s: CursorScope): string {
  return createHash('sha256').update([s.tenant, s.query, s.start, s.end, s.direction].join('\0')).digest('base64url').slice(0, 16);
}

/** Encodes a cursor for `scope`. */
export function encodeCursor(cursor: QueryCursor, scope: CursorScope): string {
  const doc = { v: 1, f: fingerprint(scope), a: formatPosition(cursor.after), s: formatOffsets(cursor.snapshot) };
  return Buffer.from(JSON.stringify(doc)).toString('base64url');
}

/** Decodes a cursor; a malformed one, or one from another query, is a 400. */
export function decodeCursor(text: string, scope: CursorScope): QueryCursor {
  const bad = (why: string): BadRequestError => new BadRequestError('SILT_BAD_CURSOR', `invalid cursor: ${why}`);
  let doc: { v?: unknown; f?: unknown; a?: unknown; s?: unknown };
  try {
    doc = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a cursor');
  }
  if (doc === null || typeof doc !== 'object' || doc.v !== 1 || typeof doc.a !== 'string' || typeof doc.s !== 'string') throw bad('not a cursor');
  if (doc.f !== fingerprint(scope)) throw bad('it belongs to another query, range, direction or tenant');
  const snapshot = parseOffsets(doc.s, () => bad('bad snapshot'));
  return { after: parsePosition(doc.a), snapshot };
}
