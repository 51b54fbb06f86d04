/** `silt push [files…|-]`: lines of text, NDJSON entries or a native JSON push body, pushed in batches with progress. */
import fs from 'node:fs';
import readline from 'node:readline';
import type { PushItem, SiltClient } from '../../../client/src';
import { parseLabelSet } from '../../../core/src/label-set';
import { COMMON_HELP, oneOf, positiveInt, UsageError } from '../args';
import { Progress, type ProgressOut } from '../progress';

/** Help of `silt push`. */
export const PUSH_HELP = `usage: silt push [files…|-] --labels '{app="x"}' [--format text|ndjson|json]

Pushes every line of the files (or of stdin, with - or no file) as an entry.
  --labels SET       the stream's labels, e.g. '{app="api",host="h1"}' (needed for text;
                     with ndjson, for entries that carry none)
  --format FORMAT    text (one raw line an entry, the default; .ndjson/.jsonl and .json files
                     default to their format), ndjson ({"labels","ts","line","attrs"} a line),
                     json (a native push body {"streams":[…]})
  --batch N          entries per push (default 1000)
${COMMON_HELP}
Progress goes to stderr: a bar on a terminal, one summary line otherwise. The exit code is 1
when any entry was rejected (the reasons are printed), 2 for a usage error.`;

type Format = 'text' | 'ndjson' | 'json';

/** What the command needs of its process. */
export interface PushIo {
  stdin: NodeJS.ReadableStream;
  stderr: ProgressOut;
}

function formatOf(file: string, option: string | undefined): Format {
  if (option !== undefined) return oneOf('format', option, ['text', 'ndjson', 'json'], 'text');
  if (/\.(ndjson|jsonl)$/i.test(file)) return 'ndjson';
  if (/\.json$/i.test(file)) return 'json';
  return 'text';
}

/** Timestamps a file's lines in order: now, but never before the previous line's. */
function clock(): () => bigint {
  let last = 0n;
  return () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    last = now > last ? now : last + 1n;
    return last;
  };
}

/** Runs `silt push`; returns the exit code. */
export async function push(client: SiltClient, files: string[], values: { labels?: string; format?: string; batch?: string }, io: PushIo): Promise<number> {
  const sources = files.length === 0 ? ['-'] : files;
  let labels: Record<string, string> | undefined;
  if (values.labels !== undefined) {
    try {
      labels = parseLabelSet(values.labels);
    } catch (err) {
      throw new UsageError(`--labels: ${(err as Error).message}`);
    }
  }
  const formats = sources.map((f) => formatOf(f, values.format));
  if (labels === undefined && formats.includes('text')) throw new UsageError('--labels is needed to push lines of text, e.g. --labels \'{app="x"}\'');
  const batchEntries = positiveInt('batch', values.batch, 1000);
  for (const f of sources) if (f !== '-' && !fs.existsSync(f)) throw new UsageError(`${f}: no such file`);
  const totalBytes = sources.reduce((n, f) => n + (f === '-' ? 0 : fs.statSync(f).size), 0);
  const progress = new Progress(io.stderr, sources.includes('-') ? 0 : totalBytes);
  const local: string[] = [];
  let bytesRead = 0;
  const next = clock();
  const rejected: string[] = [];
  let accepted = 0;

  async function* items(): AsyncGenerator<PushItem> {
    for (let i = 0; i < sources.length; i++) {
      const file = sources[i]!;
      const format = formats[i]!;
      const input: NodeJS.ReadableStream = file === '-' ? io.stdin : fs.createReadStream(file);
      // Bytes as read, CRs and the last line's missing newline included: the bar reaches the file's size.
      input.on('data', (chunk: Buffer | string) => (bytesRead += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length));
      if (format === 'json') {
        let text = '';
        for await (const chunk of input) text += chunk.toString();
        let body: { streams?: { labels?: Record<string, string>; entries?: { ts?: string; line: string; attrs?: Record<string, string> }[] }[] };
        try {
          body = JSON.parse(text);
        } catch (err) {
          local.push(`${file}: not JSON: ${(err as Error).message}`);
          continue;
        }
        for (const s of body.streams ?? []) for (const e of s.entries ?? []) yield { labels: s.labels ?? labels ?? {}, ...e };
        continue;
      }
      const lines = readline.createInterface({ input, crlfDelay: Infinity });
      let n = 0;
      for await (const line of lines) {
        n++;
        if (line === '') continue;
        if (format === 'text') {
          yield { labels: labels!, ts: next(), line };
          continue;
        }
        try {
          const e = JSON.parse(line) as { labels?: Record<string, string>; ts?: string; line?: unknown; attrs?: Record<string, string> };
          if (typeof e.line !== 'string') throw new Error('no "line" string');
          yield { labels: e.labels ?? labels ?? {}, ts: e.ts ?? next(), line: e.line, ...(e.attrs === undefined ? {} : { attrs: e.attrs }) };
        } catch (err) {
          local.push(`${file}:${n}: ${(err as Error).message}`);
        }
      }
    }
  }

  try {
    const totals = await client.pushAll(items(), {
      batchEntries,
      onProgress: (t) => progress.update(t.accepted + t.rejected.length, bytesRead),
    });
    accepted = totals.accepted;
    for (const r of totals.rejected) rejected.push(`stream ${r.stream}, entry ${r.entry}: ${r.code}: ${r.reason}`);
    progress.update(accepted + rejected.length, bytesRead);
  } finally {
    progress.done();
  }
  const problems = [...local, ...rejected];
  if (problems.length === 0) return 0;
  io.stderr.write(`${problems.length} entries rejected, ${accepted} stored:\n`);
  for (const p of problems.slice(0, 20)) io.stderr.write(`  ${p}\n`);
  if (problems.length > 20) io.stderr.write(`  … and ${problems.length - 20} more\n`);
  return 1;
}
