/**
 * The native push API's bodies (`POST /api/v1/push`) → validated streams of entries plus one
 * rejection, with a reason, per invalid entry. Pure logic on the hot path of ingest: one JSON.parse
 * per body (or per NDJSON line), labels validated once per stream, and no per-entry allocation
 * beyond the entry itself.
 */
import { isUtf8 } from 'node:buffer';
import { BadRequestError } from '../../../core/src/errors';
import { labelsProblem, parseLabelSet } from '../../../core/src/label-set';
import { labelsKey, type Labels } from '../../../core/src/labels';
import { PushBuilder, isJsonObject, kindOf, type ParsedPush, type PushEntry, type PushLimits, type PushStream } from '../push/builder';
import { decodeUtf8Body, eachLine, parseJson } from '../push/json';
import { parseMediaType, unsupportedType } from '../push/media-type';

type Kind = 'json' | 'ndjson' | 'text';

const MEDIA_TYPES = new Map<string, Kind>([
  ['application/json', 'json'],
  ['application/x-ndjson', 'ndjson'],
  ['application/ndjson', 'ndjson'],
  ['application/jsonlines', 'ndjson'],
  ['application/x-jsonlines', 'ndjson'],
  ['text/plain', 'text'],
]);

const SUPPORTED = 'application/json, application/x-ndjson or text/plain';

function contentKind(contentType: string | undefined): Kind {
  const { type } = parseMediaType(contentType, SUPPORTED);
  const kind = MEDIA_TYPES.get(type);
  if (kind === undefined) throw unsupportedType(type, SUPPORTED);
  return kind;
}

function parseJsonBody(body: Buffer, b: PushBuilder): void {
  const doc = parseJson(decodeUtf8Body(body));
  if (!isJsonObject(doc)) {
    throw new BadRequestError('SILT_BAD_PUSH_SHAPE', `request body must be a JSON object {"streams":[…]}, not ${kindOf(doc)}`, { field: '' });
  }
  const streams = doc.streams;
  if (!Array.isArray(streams)) {
    throw new BadRequestError(
      'SILT_BAD_PUSH_SHAPE',
      streams === undefined ? 'field "streams" is missing: expected {"streams":[…]}' : `field "streams" must be an array, not ${kindOf(streams)}`,
      { field: 'streams' },
    );
  }
  const limits = b.limits;
  for (let i = 0; i < streams.length; i++) {
    const s: unknown = streams[i];
    if (!isJsonObject(s)) {
      b.reject(i, -1, 'SILT_BAD_PUSH_SHAPE', `stream must be an object {"labels":{…},"entries":[…]}, not ${kindOf(s)}`);
      continue;
    }
    const entries = s.entries;
    const problem = labelsProblem(s.labels, limits);
    if (problem !== null) {
      if (!Array.isArray(entries)) b.reject(i, -1, 'SILT_BAD_LABELS', problem);
      else for (let j = 0; j < entries.length; j++) b.reject(i, j, 'SILT_BAD_LABELS', problem);
      continue;
    }
    if (!Array.isArray(entries)) {
      b.reject(
        i,
        -1,
        'SILT_BAD_PUSH_SHAPE',
        entries === undefined ? 'stream has no "entries" array' : `"entries" must be an array, not ${kindOf(entries)}`,
      );
      continue;
    }
    if (entries.length === 0) continue;
    const labels = s.labels as Labels;
    const key = labelsKey(labels);
    let out: PushEntry[] | undefined;
    for (let j = 0; j < entries.length; j++) {
      const e: unknown = entries[j];
      if (!isJsonObject(e)) {
        b.reject(i, j, 'SILT_BAD_ENTRY', `entry must be an object {"ts":…,"line":"…"}, not ${kindOf(e)}`);
        continue;
      }
      const entry = b.entry(e.line, e.ts, e.attrs);
      if (entry === null) {
        b.reject(i, j, b.code, b.reason);
        continue;
      }
      (out ??= b.group(key, labels).entries).push(entry);
      b.accepted++;
    }
  }
}

/** Label-set validation of one distinct `labels` object within an NDJSON body, and its stream once it has one. */
interface LabelsVerdict {
  problem: string | null;
  key: string;
  stream: PushStream | undefined;
}

/** True when two parsed `labels` objects hold the same names and values (in any order). */
function sameLabels(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  let n = 0;
  for (const k in a) {
    if (b[k] !== a[k]) return false;
    n++;
  }
  for (const k in b) {
    if (a[k] === undefined) return false;
    n--;
  }
  return n === 0;
}

/** How many recent label sets NDJSON lines are compared with before the (costlier) fingerprint lookup. */
const RECENT_LABELS = 8;

function parseNdjsonBody(body: Buffer, b: PushBuilder): void {
  const valid = isUtf8(body);
  const limits = b.limits;
  // Most lines repeat a label set seen a few lines before: compare with those first (no allocation),
  // then look the set up by its JSON text, and validate it only when it is new.
  const verdicts = new Map<string, LabelsVerdict>();
  const recentLabels: Record<string, unknown>[] = [];
  const recentVerdicts: LabelsVerdict[] = [];
  let recentNext = 0;
  const verdictOf = (labels: unknown): LabelsVerdict => {
    if (!isJsonObject(labels)) return { problem: labelsProblem(labels, limits), key: '', stream: undefined };
    for (let r = 0; r < recentLabels.length; r++) if (sameLabels(labels, recentLabels[r]!)) return recentVerdicts[r]!;
    // Only a flat object of strings is fingerprinted: stringifying arbitrary (deeply nested) input could overflow the stack.
    for (const k in labels) if (typeof labels[k] !== 'string') return { problem: labelsProblem(labels, limits), key: '', stream: undefined };
    const fingerprint = JSON.stringify(labels);
    let verdict = verdicts.get(fingerprint);
    if (verdict === undefined) {
      const problem = labelsProblem(labels, limits);
      verdict = { problem, key: problem === null ? labelsKey(labels as Labels) : '', stream: undefined };
      verdicts.set(fingerprint, verdict);
    }
    recentLabels[recentNext] = labels;
    recentVerdicts[recentNext] = verdict;
    recentNext = (recentNext + 1) % RECENT_LABELS;
    return verdict;
  };
  eachLine(body, (start, end, index) => {
    if (start === end) return;
    if (!valid && !isUtf8(body.subarray(start, end))) {
      b.reject(index, 0, 'SILT_INVALID_UTF8', 'line is not valid UTF-8');
      return;
    }
    const text = body.toString('utf8', start, end);
    let doc: unknown;
    try {
      doc = parseJson(text, 'line');
    } catch (err) {
      if (text.trim() === '') return;
      b.reject(index, 0, (err as BadRequestError).code, (err as BadRequestError).message);
      return;
    }
    if (!isJsonObject(doc)) {
      b.reject(index, 0, 'SILT_BAD_ENTRY', `line must be a JSON object {"labels":{…},"ts":…,"line":"…"}, not ${kindOf(doc)}`);
      return;
    }
    const verdict = verdictOf(doc.labels);
    if (verdict.problem !== null) {
      b.reject(index, 0, 'SILT_BAD_LABELS', verdict.problem);
      return;
    }
    const entry = b.entry(doc.line, doc.ts, doc.attrs);
    if (entry === null) {
      b.reject(index, 0, b.code, b.reason);
      return;
    }
    (verdict.stream ??= b.group(verdict.key, doc.labels as Labels)).entries.push(entry);
    b.accepted++;
  });
}

function parseTextBody(body: Buffer, labelsParam: string | undefined, b: PushBuilder): void {
  if (labelsParam === undefined || labelsParam.trim() === '') {
    throw new BadRequestError('SILT_BAD_LABELS', 'text/plain pushes need the stream labels in the query string, e.g. ?labels={app="api"}');
  }
  const labels = parseLabelSet(labelsParam);
  const problem = labelsProblem(labels, b.limits);
  if (problem !== null) throw new BadRequestError('SILT_BAD_LABELS', problem);
  const valid = isUtf8(body);
  const max = b.limits.maxLineBytes;
  const ts = b.receivedNs;
  let out: PushEntry[] | undefined;
  eachLine(body, (start, end, index) => {
    const bytes = end - start;
    if (bytes > max) {
      b.reject(0, index, 'SILT_LINE_TOO_LONG', `line is ${bytes} bytes, over the ${max}-byte limit`);
      return;
    }
    if (!valid && !isUtf8(body.subarray(start, end))) {
      b.reject(0, index, 'SILT_INVALID_UTF8', 'line is not valid UTF-8');
      return;
    }
    (out ??= b.group(labelsKey(labels), labels).entries).push({ ts, line: body.toString('utf8', start, end) });
    b.accepted++;
  });
}

/**
 * Parses and validates a decoded push body of the native API in one of its three content types.
 *
 * Rejection indices: JSON → stream index and entry index (entry −1 for a stream that has no
 * usable `entries` array); NDJSON → 0-based line index and entry 0; text/plain → stream 0 and the
 * 0-based line index. Whole-request problems (content type, encoding, JSON syntax of a JSON body,
 * its shape, text/plain labels) throw a SiltError instead.
 */
export function parseNativePush(
  body: Buffer,
  contentType: string | undefined,
  labelsParam: string | undefined,
  receivedNs: bigint,
  limits: PushLimits,
): ParsedPush {
  const kind = contentKind(contentType);
  const b = new PushBuilder(limits, receivedNs);
  if (kind === 'json') parseJsonBody(body, b);
  else if (kind === 'ndjson') parseNdjsonBody(body, b);
  else parseTextBody(body, labelsParam, b);
  return b.result();
}
