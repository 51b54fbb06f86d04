/** The body of a frame-scan worker thread (see scan-pool.ts): decodes each frame it is sent and answers the entries its filters keep. */
import { compileLineFilter, type LineFilter, requiredSubstrings } from '../../../core/src/logql';
import { NeedleSet, decodeStoredFrame } from '../../../core/src/stored-frame';
import { serveJobs } from '../../../core/src/worker-pool';
import type { FrameScan, ScanJob } from './scan-pool';

interface CompiledFilters {
  keep: (line: string) => boolean;
  needles: NeedleSet | undefined;
}

// A read sends the same filters with each of its frames: compiled once per distinct filter list.
const compiled = new Map<string, CompiledFilters>();
const COMPILED_MAX = 64;

function compile(filters: readonly LineFilter[]): CompiledFilters {
  const key = JSON.stringify(filters);
  let c = compiled.get(key);
  if (c === undefined) {
    const substrings = requiredSubstrings(filters);
    c = { keep: compileLineFilter(filters) ?? (() => true), needles: substrings.length > 0 ? new NeedleSet(substrings.map((s) => Buffer.from(s, 'utf8'))) : undefined };
    if (compiled.size >= COMPILED_MAX) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, c);
  }
  return c;
}

serveJobs<ScanJob, FrameScan>((job) => {
  const { keep, needles } = compile(job.filters);
  const { start, end } = job;
  const entries = decodeStoredFrame(job.version, job.bytes, job.rawLength, job.frameCrc, needles, { start, end });
  if (entries === null) return { result: null };
  const picked: number[] = [];
  let withAttrs = false;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.ts < start || e.ts >= end || !keep(e.line)) continue;
    picked.push(i);
    if (e.attrs !== undefined) withAttrs = true;
  }
  const indexes = Int32Array.from(picked);
  const ts = new BigInt64Array(picked.length);
  const lines: string[] = new Array<string>(picked.length);
  const attrs = withAttrs ? new Array<Record<string, string> | undefined>(picked.length) : null;
  for (let k = 0; k < picked.length; k++) {
    const e = entries[picked[k]!]!;
    ts[k] = e.ts;
    lines[k] = e.line;
    if (attrs !== null) attrs[k] = e.attrs;
  }
  return { result: { indexes, ts, lines, attrs }, transfer: [indexes.buffer, ts.buffer] };
});
