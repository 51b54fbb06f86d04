/**
 * Segment meta (stored in each segment's own LevelDB, the truth) and the per-partition manifest
 * (a JSON cache of closed segments' meta, written atomically; rebuilt from the segments when stale).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** What a segment holds; written in every batch of the segment under its meta key. */
export interface SegmentMeta {
  /** Lowest offset the segment may hold (its directory name). */
  first: bigint;
  /** Next offset to apply: every block below it is in this segment or an older one. */
  applied: bigint;
  /** Smallest and largest entry timestamp, null while the segment holds no entry. */
  minTs: bigint | null;
  maxTs: bigint | null;
  entries: number;
  /** Key and value bytes written (frames, registry, index, quarantine). */
  bytes: number;
  blocks: number;
  corrupt: number;
  /** Largest maxTs − minTs of any frame in the segment. */
  maxSpan: bigint;
  /** Wall-clock creation time, ms since the epoch (for the age roll). */
  createdMs: number;
  /** Every frame of the segment has its head (and a v2 frame its filter) under keys of their own: true for segments created since frame heads exist. */
  heads: boolean;
}

/** Version of the meta and manifest JSON. */
export const META_LAYOUT = 1;
/** File name of a partition's manifest. */
export const MANIFEST_FILE = 'manifest.json';

/** A segment's meta as JSON: offsets and timestamps as decimal strings (the manifest's entries, and a peer's segment listing). */
export interface MetaJson {
  layout: number;
  first: string;
  applied: string;
  minTs: string | null;
  maxTs: string | null;
  entries: number;
  bytes: number;
  blocks: number;
  corrupt: number;
  maxSpan: string;
  createdMs: number;
  /** Present, and true, only for a segment with frame heads (a segment without stays readable by a version before them). */
  heads?: true;
}

/** The JSON form of a segment's meta. */
export function toJson(m: SegmentMeta): MetaJson {
  return {
    layout: META_LAYOUT,
    first: m.first.toString(),
    applied: m.applied.toString(),
    minTs: m.minTs === null ? null : m.minTs.toString(),
    maxTs: m.maxTs === null ? null : m.maxTs.toString(),
    entries: m.entries,
    bytes: m.bytes,
    blocks: m.blocks,
    corrupt: m.corrupt,
    maxSpan: m.maxSpan.toString(),
    createdMs: m.createdMs,
    ...(m.heads ? { heads: true as const } : {}),
  };
}

const INT = /^-?[0-9]{1,20}$/;

function big(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !INT.test(v)) throw new Error(`segment meta: bad ${what}`);
  return BigInt(v);
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`segment meta: bad ${what}`);
  return v;
}

function fromJson(j: unknown): SegmentMeta {
  if (typeof j !== 'object' || j === null) throw new Error('segment meta: not an object');
  const o = j as Record<string, unknown>;
  if (o.layout !== META_LAYOUT) throw new Error(`segment meta: layout ${String(o.layout)} unknown`);
  const minTs = o.minTs === null ? null : big(o.minTs, 'minTs');
  const maxTs = o.maxTs === null ? null : big(o.maxTs, 'maxTs');
  if ((minTs === null) !== (maxTs === null)) throw new Error('segment meta: minTs and maxTs disagree');
  return {
    first: big(o.first, 'first'),
    applied: big(o.applied, 'applied'),
    minTs,
    maxTs,
    entries: num(o.entries, 'entries'),
    bytes: num(o.bytes, 'bytes'),
    blocks: num(o.blocks, 'blocks'),
    corrupt: num(o.corrupt, 'corrupt'),
    maxSpan: big(o.maxSpan, 'maxSpan'),
    createdMs: num(o.createdMs, 'createdMs'),
    heads: o.heads === true,
  };
}

/** A fresh segment's meta: nothing stored yet, frame heads kept from the first frame on. */
export function emptyMeta(first: bigint, applied: bigint, createdMs: number): SegmentMeta {
  return { first, applied, minTs: null, maxTs: null, entries: 0, bytes: 0, blocks: 0, corrupt: 0, maxSpan: 0n, createdMs, heads: true };
}

/** Encodes a segment's meta as the value of its meta key (JSON, bigints as decimal strings). */
export function encodeSegmentMeta(meta: SegmentMeta): Buffer {
  return Buffer.from(JSON.stringify(toJson(meta)));
}

/** Decodes a meta key's value; throws on anything malformed. */
export function decodeSegmentMeta(value: Uint8Array): SegmentMeta {
  return fromJson(JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')));
}

/** Reads a partition's manifest: closed segments' meta by first offset; null when missing or unreadable (then it is rebuilt). */
export async function readManifest(dir: string): Promise<Map<bigint, SegmentMeta> | null> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const doc = JSON.parse(text) as { layout?: unknown; segments?: unknown };
    if (doc.layout !== META_LAYOUT || !Array.isArray(doc.segments)) return null;
    const out = new Map<bigint, SegmentMeta>();
    for (const s of doc.segments) {
      const meta = fromJson(s);
      out.set(meta.first, meta);
    }
    return out;
  } catch {
    return null;
  }
}

let tmpCounter = 0;

/** Writes a partition's manifest atomically (temporary file, fsync, rename, fsync of the directory). */
export async function writeManifest(dir: string, partition: number, closed: readonly SegmentMeta[]): Promise<void> {
  const file = path.join(dir, MANIFEST_FILE);
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  const body = JSON.stringify({ layout: META_LAYOUT, partition, segments: closed.map(toJson) }, null, 1);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(body);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDir(dir);
}

/** fsyncs a directory so a rename or an unlink in it survives a machine crash (best effort). */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some file systems refuse to fsync a directory; the rename itself is still atomic.
  }
}
