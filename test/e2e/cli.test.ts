/**
 * The `silt` command as a process against the cluster as processes: pushing corpus files and
 * querying the same lines back, progress on a pseudo-terminal (through `script`) and not when
 * piped, a tail that survives the query service being restarted with no gap and no duplicate,
 * the lookups and cluster stats, help and usage errors.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SiltClient } from '../../client/src';
import { CORPUS_DIR } from '../support/corpus';
import { waitFor, type ServiceProcess } from '../support/processes';
import { StorageCluster } from '../support/storage-cluster';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'cli/bin/silt.js');
const FILES = ['Apache_2k.log', 'HDFS_2k.log', 'OpenSSH_2k.log'].map((f) => path.join(CORPUS_DIR, f));

/** A file's lines as `silt push` takes them: split at LF, a CR before it dropped, empty lines left out. */
const linesOf = (file: string): string[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l !== '');

describe('cli > silt against the cluster', () => {
  let cluster: StorageCluster;
  let ingest: ServiceProcess;
  let query: ServiceProcess;
  let env: NodeJS.ProcessEnv;

  const silt = (args: string[], input?: string): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env, input, encoding: 'utf8', timeout: 120000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    cluster = new StorageCluster(2);
    await cluster.startNode('n0', 0);
    [ingest, query] = await Promise.all([cluster.startIngest(), cluster.startQuery()]);
    env = { ...process.env, SILT_URL: query.url, SILT_INGEST_URL: ingest.url, SILT_TENANT: 'cli' };
  }, 180000);

  afterAll(async () => {
    await Promise.all([ingest?.stop(), query?.stop()]);
    await cluster?.close();
  });

  it('silt push of corpus files, then silt query, gives the same lines in order; piped, progress is one summary line', () => {
    const pushed = silt(['push', ...FILES, '--labels', '{app="corpus"}', '--batch', '500']);
    expect(pushed.stderr).toMatch(/^pushed 6000 entries \([\d.]+ KiB\) in [\d.]+ s, \d+ entries\/s\n$/);
    expect(pushed.status).toBe(0);
    const expected = FILES.flatMap(linesOf);
    expect(expected).toHaveLength(6000);
    const back = silt(['query', '{app="corpus"}', '--since', '10m', '--limit', '10000', '--forward', '--output', 'raw']);
    expect(back.status).toBe(0);
    expect(back.stdout.split('\n').slice(0, -1)).toEqual(expected);
    const jsonl = silt(['query', '{app="corpus"} |= "Failed password"', '--since', '10m', '--limit', '3', '--output', 'jsonl']);
    const entries = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l) as { labels: Record<string, string>; line: string });
    expect(entries).toHaveLength(3);
    for (const e of entries) expect(e).toMatchObject({ labels: { app: 'corpus' }, line: expect.stringContaining('Failed password') });
  });

  it('on a pseudo-terminal, silt push draws a progress bar with an ETA', () => {
    const cmd = `${process.execPath} ${BIN} push ${FILES[0]} --labels '{app="tty"}'`;
    const r = spawnSync('script', ['-qefc', cmd, '/dev/null'], { cwd: ROOT, env, encoding: 'utf8', timeout: 120000 });
    expect(r.status).toBe(0);
    // Each frame returns the cursor and clears the line (CR, ESC [K) before it redraws.
    expect(r.stdout).toContain('\r\u001b[K[');
    expect(r.stdout).toMatch(/\[#{24}\] 100% 2,000 entries, [\d.]+ KiB, [\d,]+ entries\/s, ETA 0 s/);
    expect(r.stdout).not.toContain('pushed 2000 entries');
  });

  it('a rejected entry makes silt push exit 1 with the reason; usage errors exit 2 with help', () => {
    const bad = silt(['push', '-', '--format', 'ndjson', '--labels', '{app="nd"}'], '{"line":"fine"}\n{"ts":"yesterday","line":"bad ts"}\nnot json\n');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('2 entries rejected, 1 stored');
    expect(bad.stderr).toContain('SILT_BAD_TIMESTAMP');
    expect(bad.stderr).toContain('-:3:');
    const usage = silt(['push', FILES[0]!]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--labels is needed');
    expect(usage.stderr).toContain('usage: silt push');
    expect(silt(['frobnicate']).status).toBe(2);
    for (const command of ['push', 'query', 'tail', 'labels', 'series', 'stats']) {
      const help = silt([command, '--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`usage: silt ${command}`);
      expect(help.stdout).toContain('--tenant');
    }
    const badQuery = silt(['query', '{app="corpus"']);
    expect(badQuery.status).toBe(1);
    expect(badQuery.stderr).toMatch(/^silt: SILT_BAD_QUERY: /);
  });

  it('labels, label values, series, a metric query and cluster stats', () => {
    expect(silt(['labels', '--since', '1h']).stdout.split('\n')).toContain('app');
    expect(silt(['labels', 'app', '--since', '1h']).stdout.split('\n')).toEqual(expect.arrayContaining(['corpus', 'tty']));
    expect(silt(['series', '{app="corpus"}']).stdout).toBe('{app="corpus"}\n');
    const table = silt(['query', 'sum(count_over_time({app="corpus"}[1h]))', '--since', '1h', '--step', '1h', '--output', 'table']);
    expect(table.status).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^time\s+series\s+value$/);
    expect(table.stdout).toMatch(/\{\}\s+6000\n/);
    const s = silt(['stats']);
    expect(s.status).toBe(0);
    expect(s.stdout).toContain('1 storage node\n  n0  group 0');
    expect(s.stdout).toMatch(/ {2}0 {2}end \d+ {2}group 0: n0 at \d+, lag \d+/);
    expect(s.stdout).toMatch(/ {2}1 {2}end \d+ {2}group 0: n0 at \d+, lag \d+/);
  });

  it('silt tail goes on through a query service restart with no gap and no duplicate', async () => {
    const client = new SiltClient({ url: query.url, ingestUrl: ingest.url, tenant: 'cli' });
    const push = (from: number, to: number) => client.push([{ labels: { app: 'tailed' }, entries: Array.from({ length: to - from }, (_, i) => ({ line: `tail ${from + i}` })) }]);
    const child: ChildProcess = spawn(process.execPath, [BIN, 'tail', '{app="tailed"}', '--since', '1m', '--output', 'raw'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const lines = (): string[] => out.split('\n').filter((l) => l !== '');
    try {
      await push(0, 10);
      await waitFor('the first ten lines', async () => lines().length >= 10, 30000);
      await query.stop();
      await push(10, 25);
      await query.start();
      await push(25, 40);
      await waitFor('all forty lines', async () => lines().length >= 40, 60000);
      await new Promise((r) => setTimeout(r, 500));
      expect(lines()).toEqual(Array.from({ length: 40 }, (_, i) => `tail ${i}`));
      expect(err).toContain('resuming');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });
});
