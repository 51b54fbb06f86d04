/** Where and how a run happened: the machine, the commit, the command line. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** Cores, memory, OS and Node of this machine. */
export function machineInfo(): { cpus: number; cpuModel: string; memoryGiB: number; os: string; node: string } {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The commit checked out, read from .git's files rather than by running git (no git binary needed,
 * and nothing that could touch the repository's state); 'unknown' outside a repository.
 */
export function currentCommit(): string {
  let gitDir = path.join(ROOT, '.git');
  const pointer = read(gitDir);
  // A worktree or submodule has a .git file that names the real directory.
  if (pointer?.startsWith('gitdir: ')) gitDir = path.resolve(ROOT, pointer.slice('gitdir: '.length));
  const head = read(path.join(gitDir, 'HEAD'));
  if (!head) return 'unknown';
  if (!head.startsWith('ref: ')) return head;
  const ref = head.slice('ref: '.length);
  const common = read(path.join(gitDir, 'commondir'));
  const dirs = [gitDir, ...(common ? [path.resolve(gitDir, common)] : [])];
  for (const dir of dirs) {
    const loose = read(path.join(dir, ref));
    if (loose) return loose;
    const packed = read(path.join(dir, 'packed-refs'))
      ?.split('\n')
      .find((l) => l.endsWith(' ' + ref));
    if (packed) return packed.split(' ')[0]!;
  }
  return `unknown (${ref} has no commit yet)`;
}

/** The command that ran this harness: the npm script when there is one, and the node command line. */
export function commandLine(): string {
  const node = ['node', ...process.execArgv, ...process.argv.slice(1).map((a) => (path.isAbsolute(a) ? path.relative(ROOT, a) : a))].join(' ');
  const script = process.env.npm_lifecycle_event;
  return script ? `npm run ${script} (runs: ${node})` : node;
}
