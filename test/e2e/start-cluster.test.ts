import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildDist, freePort } from '../support/processes';

const ROOT = path.resolve(__dirname, '../..');

function jvmsUsing(dir: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('kafka.Kafka') && cmd.includes(dir)) out.push(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

describe('infra > npm start', () => {
  let child: ChildProcess | undefined;
  let dataDir: string;

  beforeAll(() => {
    buildDist();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-start-'));
  }, 120000);

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs its own broker, ingest, a storage node per replica group and query, serves a push back, and stops everything on Ctrl-C', async () => {
    const [ingestPort, brokerPort, controllerPort, storagePort, queryPort, syslogPort, syslogTlsPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const env = {
      ...process.env,
      SILT_KAFKA_BROKERS: '',
      SILT_DATA_DIR: dataDir,
      SILT_INGEST_PORT: String(ingestPort),
      SILT_STORAGE_PORT: String(storagePort),
      SILT_QUERY_PORT: String(queryPort),
      SILT_INGEST_SYSLOG_PORT: String(syslogPort),
      SILT_INGEST_SYSLOG_TLS_PORT: String(syslogTlsPort),
      SILT_KAFKA_LOCAL_BROKER_PORT: String(brokerPort),
      SILT_KAFKA_LOCAL_CONTROLLER_PORT: String(controllerPort),
      SILT_LOG_LEVEL: 'warn',
    };
    // A process group of its own, so the test can press Ctrl-C as a terminal does: SIGINT to the whole group.
    child = spawn(process.execPath, [path.join(ROOT, 'dist/infra/src/start-cluster.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));

    const url = `http://127.0.0.1:${ingestPort}`;
    const deadline = Date.now() + 120000;
    let ready = false;
    while (!ready && Date.now() < deadline && child.exitCode === null) {
      ready = await fetch(url + '/readyz').then((r) => r.status === 200, () => false);
      if (!ready) await new Promise((r) => setTimeout(r, 500));
    }
    if (!ready) throw new Error(`cluster did not become ready:\n${output}`);
    const storageUrls = [0, 1].map((r) => `http://127.0.0.1:${storagePort + r}`);
    const queryUrl = `http://127.0.0.1:${queryPort}`;
    for (const su of [...storageUrls, queryUrl]) {
      while (Date.now() < deadline && !(await fetch(su + '/readyz').then((r) => r.status === 200, () => false))) await new Promise((r) => setTimeout(r, 500));
    }
    expect(jvmsUsing(dataDir)).toHaveLength(1);

    const res = await fetch(url + '/api/v1/push?labels=' + encodeURIComponent('{app="e2e"}'), {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'hello from npm start\n',
    });
    expect(res.status).toBe(200);
    const pushed = (await res.json()) as { token: string };
    expect(pushed).toMatchObject({ accepted: 1, rejected: [] });
    // Both replica groups hold the line: each group has one node, which owns every partition.
    for (const su of storageUrls) {
      const params = new URLSearchParams({ query: '{app="e2e"}', token: pushed.token });
      const read = await fetch(`${su}/internal/v1/read?${params}`).then((r) => r.text());
      expect(read).toContain('hello from npm start');
    }
    const params = new URLSearchParams({ query: '{app="e2e"}', token: pushed.token });
    const answer = (await fetch(`${queryUrl}/api/v1/query?${params}`).then((r) => r.json())) as { entries: { line: string }[] };
    expect(answer.entries.map((e) => e.line)).toEqual(['hello from npm start']);

    // Syslog has no write token: send one line over TCP and poll the query service until it is there.
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(syslogPort, '127.0.0.1', () => socket.end('<14>1 - e2e-host e2e-syslog - - - hello over syslog\n', () => resolve()));
      socket.once('error', reject);
    });
    let syslogLines: string[] = [];
    while (syslogLines.length === 0 && Date.now() < deadline) {
      const q = new URLSearchParams({ query: '{app="e2e-syslog"}' });
      syslogLines = ((await fetch(`${queryUrl}/api/v1/query?${q}`).then((r) => r.json())) as { entries: { line: string }[] }).entries.map((e) => e.line);
      if (syslogLines.length === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(syslogLines).toEqual(['hello over syslog']);

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    // The broker outlived the services: they left their groups and announced their departure.
    expect(output).not.toMatch(/tombstone failed|ECONNREFUSED/);
    expect(jvmsUsing(dataDir)).toHaveLength(0);
    expect(await fetch(url + '/healthz').then(() => 'up', () => 'down')).toBe('down');
  }, 180000);
});
