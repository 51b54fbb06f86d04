/**
 * A parsed push through the plugins' push hooks: its size offered to `admitPush` (rate limits),
 * then — only for a tenant some `onPush` applies to — its streams unpacked into labels and entry
 * objects, handed to the hooks in order, and packed back: labels checked again (a rule may have
 * made them invalid; such a stream's entries become rejections), streams whose labels came out
 * equal merged, and entries a hook left out simply gone (still counted as accepted: the client
 * must not send them again).
 */
import { SiltError } from '../../../core/src/errors';
import { labelsProblem, type LabelLimits } from '../../../core/src/label-set';
import { labelsKey } from '../../../core/src/labels';
import { runEntries } from '../../../core/src/payload-run';
import type { PushSize, PushStreamView } from '../../../core/src/plugins';
import type { ParsedPush, PushEntry, PushStream, Rejection } from './builder';

/** What the distributor needs of the plugin host. */
export interface PushHooks {
  beforePush(tenant: string): void;
  admitPush(tenant: string, size: PushSize): void;
  hasPushHooks(tenant: string): boolean;
  onPush(tenant: string, streams: PushStreamView[]): Promise<PushStreamView[]>;
}

/**
 * Line bytes of the accepted part of `parsed`: from wire lengths where the protocol knew them, else
 * counted stream by stream and kept in `parsed.lineBytes`, so the batcher does not count them again.
 */
export function lineBytesOf(parsed: ParsedPush): number {
  const { streams } = parsed;
  if (parsed.lineBytes === undefined) {
    parsed.lineBytes = streams.map((s) => {
      let n = 0;
      if (s.runs !== undefined) for (const r of s.runs) n += r.lineBytes;
      else for (const e of s.entries) n += Buffer.byteLength(e.line, 'utf8');
      return n;
    });
  }
  let bytes = 0;
  for (const n of parsed.lineBytes) bytes += n;
  return bytes;
}

/** The size of the accepted part of `parsed`; its bytes are counted only if a hook asks (no rate limit, no reading every line). */
export function pushSize(parsed: ParsedPush): PushSize {
  let bytes = -1;
  return {
    streams: parsed.streams,
    entries: parsed.accepted,
    get bytes() {
      if (bytes < 0) bytes = lineBytesOf(parsed);
      return bytes;
    },
  };
}

function isEntry(e: unknown): e is PushEntry {
  const x = e as PushEntry;
  return x !== null && typeof x === 'object' && typeof x.ts === 'bigint' && typeof x.line === 'string' && (x.attrs === undefined || (typeof x.attrs === 'object' && x.attrs !== null));
}

/** `labels` without the names whose value a rule emptied: an empty value means the label is absent (as in Prometheus relabelling). */
function withoutEmpty(labels: Record<string, string>): Record<string, string> {
  let empty = false;
  for (const name in labels) if (labels[name] === '') empty = true;
  if (!empty) return labels;
  const out: Record<string, string> = {};
  for (const name in labels) if (labels[name] !== '') out[name] = labels[name]!;
  return out;
}

/** `parsed` after the push hooks of `tenant`; see the module comment. */
export async function applyPushHooks(tenant: string, parsed: ParsedPush, hooks: PushHooks, limits: LabelLimits): Promise<ParsedPush> {
  const views: PushStreamView[] = parsed.streams.map((s) => ({
    labels: { ...s.labels },
    entries: s.runs === undefined ? s.entries : s.runs.flatMap(runEntries),
  }));
  const out = await hooks.onPush(tenant, views);
  const byKey = new Map<string, PushStream>();
  const rejected: Rejection[] = [...parsed.rejected];
  for (let i = 0; i < out.length; i++) {
    const view = out[i]!;
    if (!Array.isArray(view?.entries) || !view.entries.every(isEntry)) {
      throw new SiltError('SILT_PLUGIN_FAILED', 500, false, `a push hook returned stream ${i} with entries that are not {ts: bigint, line: string, attrs?}`);
    }
    if (view.entries.length === 0) continue;
    const labels = withoutEmpty(view.labels);
    const problem = labelsProblem(labels, limits);
    if (problem !== null) {
      for (let e = 0; e < view.entries.length; e++) rejected.push({ stream: i, entry: e, code: 'SILT_BAD_LABELS', reason: `after the push plugins: ${problem}` });
      continue;
    }
    const key = labelsKey(labels);
    const into = byKey.get(key);
    if (into === undefined) byKey.set(key, { labels, entries: view.entries });
    else into.entries = into.entries.concat(view.entries);
  }
  // Entries a rule dropped on purpose stay accepted (the client must not send them again); only those the rules made unstorable are rejections.
  const accepted = Math.max(0, parsed.accepted - (rejected.length - parsed.rejected.length));
  return { streams: [...byKey.values()], accepted, rejected };
}
