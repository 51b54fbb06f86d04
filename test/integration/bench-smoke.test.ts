/**
 * A tiny run of the benchmark harness (`--quick`) against the shared test broker: it must finish and
 * write a table with every row. The benchmark itself never runs in CI; this only keeps the harness working.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REQUIRED_ROWS } from '../../bench/src/report';
import type { BenchResults } from '../../bench/src/results';
import { testBrokers } from '../support/kafka';

const ROOT = path.resolve(__dirname, '../..');

function runHarness(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', path.join(ROOT, 'test/support/ts-register.js'), path.join(ROOT, 'bench/src/run.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, SILT_KAFKA_BROKERS: testBrokers().join(',') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('bench harness (smoke)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-bench-smoke-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario at a tiny volume and writes a table with every row', async () => {
    const out = path.join(dir, 'RESULTS.md');
    const json = path.join(dir, 'results.json');
    const { code, output } = await runHarness(['--quick', '--out', out, '--json', json]);
    if (code !== 0) throw new Error(`harness exited ${code}:\n${output.slice(-5000)}`);

    const markdown = fs.readFileSync(out, 'utf8');
    const missing = REQUIRED_ROWS.filter((label) => !markdown.includes(`| ${label}`));
    expect(missing).toEqual([]);
    expect(markdown).toContain('## Physical limits');

    const results = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchResults;
    expect(results.externalKafka).toBe(true);
    expect(results.ingest!.full.entries).toBeGreaterThan(0);
    // Five rounds of every protocol, each round's order rotated by one.
    const order = ['native', 'loki', 'otlp', 'elastic'];
    expect(results.protocols!.runs.map((r) => r.protocol)).toEqual([0, 1, 2, 3, 4].flatMap((round) => order.map((_, i) => order[(i + round) % order.length])));
    for (const run of results.protocols!.runs) expect(run.entries).toBeGreaterThan(0);
    expect(results.scales.map((s) => s.scale)).toEqual([1, 4, 16]);
    for (const s of results.scales) {
      expect(s.entries).toBeGreaterThanOrEqual(s.scale * results.options.unit);
      expect(s.disk.levelDbBytes.every((b) => b > 0)).toBe(true);
      expect(s.queries!.scanEntries).toBeGreaterThanOrEqual(s.scale * results.options.unit);
      expect(s.probes!.lag.n).toBeGreaterThan(0);
      expect(s.probes!.tail.n).toBeGreaterThan(0);
    }
    // The real results are never touched by a smoke run.
    expect(output).not.toContain(path.join(ROOT, 'bench/RESULTS.md'));
  }, 180000);
});
