import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testBrokers, uniqueName } from '../support/kafka';
import { buildDist, freePort, waitFor } from '../support/processes';

const ROOT = path.resolve(__dirname, '../..');
/** The conformance oracle recorded from Grafana Loki 3.7.6: `../shared/logql-oracle` next to the repository. */
const ORACLE = path.resolve(ROOT, '../shared/logql-oracle/compare.js');

/** Runs `node compare.js …` to the end; resolves with its exit status and output. */
function runOracle(args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ORACLE, ...args], { cwd: path.dirname(ORACLE), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('exit', (status) => resolve({ status, output }));
  });
}

describe('logql > oracle', () => {
  let cluster: ChildProcess | undefined;
  let output = '';
  let dataDir: string;

  beforeAll(() => {
    buildDist();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-oracle-'));
  }, 180000);

  afterAll(async () => {
    if (cluster && cluster.exitCode === null) {
      const exited = new Promise((resolve) => cluster!.once('exit', resolve));
      process.kill(-cluster.pid!, 'SIGTERM');
      await exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  it('answers every recorded query as Loki 3.7.6 does, on the cluster `npm start` runs', async () => {
    const [ingestPort, storagePort, queryPort, syslogPort, syslogTlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const env = {
      ...process.env,
      // npm start on the test broker (it would start its own without one), on topics and groups of its own.
      SILT_KAFKA_BROKERS: testBrokers().join(','),
      SILT_KAFKA_LOGS_TOPIC: uniqueName('silt.logs'),
      SILT_KAFKA_NODES_TOPIC: uniqueName('silt.nodes'),
      SILT_STORAGE_GROUP_PREFIX: uniqueName('silt-replica') + '-',
      SILT_DATA_DIR: dataDir,
      SILT_INGEST_PORT: String(ingestPort),
      SILT_STORAGE_PORT: String(storagePort),
      SILT_QUERY_PORT: String(queryPort),
      SILT_INGEST_SYSLOG_PORT: String(syslogPort),
      SILT_INGEST_SYSLOG_TLS_PORT: String(syslogTlsPort),
      SILT_LOG_LEVEL: 'warn',
    };
    cluster = spawn(process.execPath, [path.join(ROOT, 'dist/infra/src/start-cluster.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    cluster.stdout!.on('data', (d) => (output = (output + d).slice(-20000)));
    cluster.stderr!.on('data', (d) => (output = (output + d).slice(-20000)));
    const ingest = `http://127.0.0.1:${ingestPort}`;
    const query = `http://127.0.0.1:${queryPort}`;
    const urls = [ingest, query, `http://127.0.0.1:${storagePort}`, `http://127.0.0.1:${storagePort + 1}`];
    await waitFor(`the cluster to be ready\n${output}`, async () => (await Promise.all(urls.map((u) => fetch(u + '/readyz').then((r) => r.status === 200, () => false)))).every(Boolean), 120000, 500);

    const run = await runOracle(['--load', 'silt', '--ingest', ingest, '--query', query]);
    const summary = run.output.split('\n').find((l) => l.startsWith('logql oracle:')) ?? '(no summary line)';
    if (run.status !== 0) throw new Error(`${summary}\n${run.output.slice(-20000)}`);
    expect(summary).toMatch(/^logql oracle: (\d+) of \1 queries match$/);
  }, 600000);
});
