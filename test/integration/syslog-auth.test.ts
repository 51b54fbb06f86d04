/**
 * Syslog when auth is on: plain TCP and UDP carry no credentials and stay closed; TLS takes only
 * senders whose client certificate the configured CA signed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { hashKey } from '../../core/src/auth/key-ring';
import { readTopic, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { waitFor } from '../support/processes';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A CA, a server certificate and two client certificates: one the CA signed, one self-signed. */
function makeCertificates(root: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${root}/ca.key`, '-out', `${root}/ca.pem`, '-days', '1', '-subj', '/CN=silt-test-ca']);
  for (const name of ['server', 'client']) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${root}/${name}.key`, '-out', `${root}/${name}.csr`, '-subj', `/CN=${name === 'server' ? 'localhost' : 'shipper-1'}`]);
    openssl(['x509', '-req', '-in', `${root}/${name}.csr`, '-CA', `${root}/ca.pem`, '-CAkey', `${root}/ca.key`, '-CAcreateserial', '-out', `${root}/${name}.pem`, '-days', '1']);
  }
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${root}/rogue.key`, '-out', `${root}/rogue.pem`, '-days', '1', '-subj', '/CN=rogue']);
}

/** Sends `lines` (octet-counted, RFC 6587) over TLS with the client certificate `name`; resolves once the socket closed, rejects on a TLS error. */
function sendTls(port: number, root: string, name: string | null, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: fs.readFileSync(`${root}/ca.pem`),
      servername: 'localhost',
      ...(name === null ? {} : { key: fs.readFileSync(`${root}/${name}.key`), cert: fs.readFileSync(`${root}/${name}.pem`) }),
    });
    socket.on('error', reject);
    socket.on('secureConnect', () => {
      const frames = lines.map((l) => `${Buffer.byteLength(l)} ${l}`).join('');
      socket.write(frames);
      // TLS 1.3 reports a refused client certificate only after the handshake: wait for the server's verdict.
      setTimeout(() => socket.end(), 300);
    });
    socket.on('close', () => resolve());
  });
}

describe('ingest > syslog > auth on: mutual TLS only', () => {
  let root: string;
  let ingest: IngestUnderTest;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-syslog-auth-'));
    makeCertificates(root);
    ingest = await startIngest({
      auth: { enabled: true, keys: [{ sha256: hashKey('some-key-0123456789'), tenants: ['t'], scopes: ['push'] }] },
      ingest: {
        syslogEnabled: true,
        syslogPort: 0,
        syslogTlsPort: 0,
        syslogTlsKeyFile: `${root}/server.key`,
        syslogTlsCertFile: `${root}/server.pem`,
        syslogTlsClientCaFile: `${root}/ca.pem`,
        syslogTenant: 'syslog-auth',
      },
    });
  }, 60000);

  afterAll(async () => {
    await ingest?.service.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('binds TLS only, stores what a CA-signed client sends, and refuses a client without a certificate or with a rogue one', async () => {
    const addresses = ingest.service.syslogAddresses();
    expect(addresses.tcp).toBeNull();
    expect(addresses.udp).toBeNull();
    const port = addresses.tls!.port;
    const line = (i: number): string => `<14>1 2026-12-04T10:00:00.000Z host app 1 - - signed message ${i}`;
    await sendTls(port, root, 'client', [line(1), line(2)]);
    await sendTls(port, root, null, ['<14>1 2026-12-04T10:00:00.000Z host app 1 - - without certificate']).catch(() => undefined);
    await sendTls(port, root, 'rogue', ['<14>1 2026-12-04T10:00:00.000Z host app 1 - - rogue certificate']).catch(() => undefined);
    let lines: string[] = [];
    await waitFor('the signed messages in Kafka', async () => {
      lines = (await readTopic(ingest.config.kafka.brokers, ingest.config.kafka.logsTopic)).map((e) => e.line);
      return lines.length >= 2;
    });
    await new Promise((r) => setTimeout(r, 500));
    const stored = await readTopic(ingest.config.kafka.brokers, ingest.config.kafka.logsTopic);
    expect(stored.map((e) => e.line).sort()).toEqual(['signed message 1', 'signed message 2']);
    expect(new Set(stored.map((e) => e.tenant))).toEqual(new Set(['syslog-auth']));
  }, 60000);

  it('without a client CA, auth on keeps syslog closed altogether', async () => {
    const other = await startIngest({
      auth: { enabled: true, keys: [] },
      ingest: { syslogEnabled: true, syslogPort: 0, syslogTlsPort: 0, syslogTlsKeyFile: `${root}/server.key`, syslogTlsCertFile: `${root}/server.pem` },
    });
    try {
      expect(other.service.syslogAddresses()).toEqual({ tcp: null, udp: null, tls: null });
    } finally {
      await other.service.stop();
    }
  });
});
