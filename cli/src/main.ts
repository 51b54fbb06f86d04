/**
 * `silt`, the command line of a Silt cluster: push, query, tail, labels, series, stats. Each
 * command parses its own options (node:util parseArgs) with the common ones (--url, --tenant,
 * --key and their SILT_* variables) and talks to the cluster through the client library.
 */
import { SiltClientError } from '../../client/src';
import { SiltError } from '../../core/src/errors';
import { clientOf, parse, UsageError } from './args';
import { push, PUSH_HELP } from './commands/push';
import { labels, query, READ_HELP, series, stats, tail } from './commands/read';

const HELP = `usage: silt <command> [options]

commands:
  push [files…|-]      push lines, NDJSON entries or a JSON push body (progress on a terminal)
  query '<logql>'      print a log query's entries, or a metric query's series
  tail '<logql>'       follow entries as they are pushed
  labels [name]        label names, or one label's values
  series '<selector>'  the label sets of matching streams
  stats                storage nodes, partitions, replica groups and their lag

silt <command> --help tells a command's options. Common to all: --url (query service, default
$SILT_URL or http://localhost:7420), --ingest-url, --tenant ($SILT_TENANT), --key ($SILT_API_KEY).`;

const OPTIONS = {
  push: { labels: { type: 'string' }, format: { type: 'string' }, batch: { type: 'string' } },
  query: { since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' }, forward: { type: 'boolean' }, step: { type: 'string' }, output: { type: 'string', short: 'o' } },
  tail: { since: { type: 'string' }, output: { type: 'string', short: 'o' } },
  labels: { since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
  series: { since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, output: { type: 'string', short: 'o' } },
  stats: { output: { type: 'string', short: 'o' } },
} as const;

type Command = keyof typeof OPTIONS;

const stdout = { write: (t: string) => void process.stdout.write(t), isTTY: process.stdout.isTTY === true };
const stderr = { write: (t: string) => void process.stderr.write(t), isTTY: process.stderr.isTTY === true };

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    stdout.write(HELP + '\n');
    return name === undefined ? 2 : 0;
  }
  if (!(name in OPTIONS)) throw new UsageError(`unknown command "${name}"`);
  const command = name as Command;
  const help = command === 'push' ? PUSH_HELP : READ_HELP[command]!;
  try {
    const { values, positionals } = parse(rest, OPTIONS[command]);
    if (values.help === true) {
      stdout.write(help + '\n');
      return 0;
    }
    const client = clientOf(values);
    const v = values as Record<string, string | boolean | undefined>;
    switch (command) {
      case 'push':
        return await push(client, positionals, v, { stdin: process.stdin, stderr });
      case 'query':
        return await query(client, positionals, v, stdout);
      case 'tail': {
        const controller = new AbortController();
        const stop = (): void => controller.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        return await tail(client, positionals, v, stdout, stderr, controller.signal);
      }
      case 'labels':
        return await labels(client, positionals, v, stdout);
      case 'series':
        return await series(client, positionals, v, stdout);
      case 'stats':
        return await stats(client, v, stdout);
    }
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${err.message}\n\n${help}`);
    throw err;
  }
}

/** Runs the CLI with `argv` (without node and the script) and exits with its code. */
export function main(argv: string[]): void {
  run(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        stderr.write(`silt: ${err.message}\n`);
        process.exit(2);
      }
      // What the server or the query's own parser said, with its code; never a stack trace.
      if (err instanceof SiltClientError || err instanceof SiltError) {
        const pos = (err.details as { position?: unknown } | undefined)?.position;
        stderr.write(`silt: ${err.code}: ${err.message}${pos === undefined ? '' : ` (at ${JSON.stringify(pos)})`}\n`);
      } else stderr.write(`silt: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
