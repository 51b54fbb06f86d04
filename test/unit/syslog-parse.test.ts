import { isUtf8 } from 'node:buffer';
import { DEFAULT_CONFIG } from '../../core/src/config';
import type { Labels } from '../../core/src/labels';
import { parseTimestamp } from '../../core/src/time';
import { pushLimits, type PushLimits, type Rejection } from '../../ingest/src/push/builder';
import { SyslogBatch } from '../../ingest/src/syslog/batch';
import { FACILITY_NAMES, LEVEL_NAMES, SyslogParser } from '../../ingest/src/syslog/parse';

const NOW = parseTimestamp('2026-12-01T20:00:00Z');
/** The default limits, as ingest runs with them. */
const LIMITS: PushLimits = pushLimits(DEFAULT_CONFIG.ingest);

interface Stored {
  labels: Labels;
  ts: bigint;
  line: string;
  attrs?: Record<string, string>;
}

interface Options {
  now?: string;
  limits?: Partial<PushLimits>;
  /** Tell the parser the bytes are valid UTF-8 when they are (as the framer does), or leave it to check. */
  utf8Known?: boolean;
}

function bytes(m: string | Buffer): Buffer {
  return typeof m === 'string' ? Buffer.from(m, 'utf8') : m;
}

function store(messages: (string | Buffer)[], o: Options = {}): { entries: Stored[]; rejected: Rejection[]; batch: SyslogBatch } {
  const limits = { ...LIMITS, ...o.limits };
  const batch = new SyslogBatch(new SyslogParser(limits.maxLineBytes), limits, o.now === undefined ? NOW : parseTimestamp(o.now));
  for (const m of messages) {
    const buf = bytes(m);
    batch.add(buf, 0, buf.length, buf.length, o.utf8Known !== false && isUtf8(buf));
  }
  const parsed = batch.result();
  expect(parsed.accepted).toBe(parsed.streams.reduce((n, s) => n + s.entries.length, 0));
  return { entries: parsed.streams.flatMap((s) => s.entries.map((e) => ({ labels: s.labels, ...e }))), rejected: parsed.rejected, batch };
}

/** The one entry a message is stored as — the same whether or not the parser is told the bytes are valid UTF-8. */
function one(message: string | Buffer, o: Options = {}): Stored {
  const known = store([message], { ...o, utf8Known: true });
  const checked = store([message], { ...o, utf8Known: false });
  expect(known.rejected).toEqual([]);
  expect(known.entries).toHaveLength(1);
  expect(checked.entries).toEqual(known.entries);
  return known.entries[0]!;
}

const ns = (rfc3339: string): bigint => parseTimestamp(rfc3339);
const BOM = '\ufeff';

describe('ingest > syslog parse > RFC 5424', () => {
  it('reads the RFC examples (section 6.5): labels, MSGID and PROCID as attrs, the BOM stripped', () => {
    expect(one(`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`, { now: '2003-10-11T22:20:00Z' })).toEqual({
      labels: { facility: 'auth', level: 'critical', host: 'mymachine.example.com', app: 'su' },
      ts: ns('2003-10-11T22:14:15.003Z'),
      line: "'su root' failed for lonvick on /dev/pts/8",
      attrs: { msgid: 'ID47' },
    });
    expect(one(`<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.`, { now: '2003-08-24T12:20:00Z' })).toEqual({
      labels: { facility: 'local4', level: 'notice', host: '192.0.2.1', app: 'myproc' },
      ts: ns('2003-08-24T12:14:15.000003Z'),
      line: "%% It's time to make the do-nuts.",
      attrs: { procid: '8710' },
    });
  });

  it('maps structured data to attrs named SD-ID.PARAM-NAME', () => {
    const sd = '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]';
    const attrs = { msgid: 'ID47', 'exampleSDID@32473.iut': '3', 'exampleSDID@32473.eventSource': 'Application', 'exampleSDID@32473.eventID': '1011' };
    const now = '2003-10-11T22:20:00Z';
    expect(one(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ${sd} ${BOM}An application event log entry...`, { now })).toEqual({
      labels: { facility: 'local4', level: 'notice', host: 'mymachine.example.com', app: 'evntslog' },
      ts: ns('2003-10-11T22:14:15.003Z'),
      line: 'An application event log entry...',
      attrs,
    });
    expect(one(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ${sd}[examplePriority@32473 class="high"]`, { now })).toMatchObject({
      line: '',
      attrs: { ...attrs, 'examplePriority@32473.class': 'high' },
    });
  });

  it('reads what syslog-ng 3.38 syslog() sends (octet-counted, its LF inside the frame)', () => {
    expect(one('<156>1 2026-12-01T20:45:15+00:00 h1 numbers 4242 ID7 [test@32473 iut="3"][meta sequenceId="1"] line 0001\n', { now: '2026-12-01T20:45:16Z' })).toEqual({
      labels: { facility: 'local3', level: 'warn', host: 'h1', app: 'numbers' },
      ts: ns('2026-12-01T20:45:15Z'),
      line: 'line 0001',
      attrs: { procid: '4242', msgid: 'ID7', 'test@32473.iut': '3', 'meta.sequenceId': '1' },
    });
  });

  it('leaves every field that is "-" (NILVALUE) out, and stamps the receive time', () => {
    expect(one('<13>1 - - - - - -')).toEqual({ labels: { facility: 'user', level: 'notice' }, ts: NOW, line: '' });
    expect(one('<13>1 - - - - - - just the message\r\n')).toEqual({ labels: { facility: 'user', level: 'notice' }, ts: NOW, line: 'just the message' });
    expect(one('<13>1 - - - - -')).toEqual({ labels: { facility: 'user', level: 'notice' }, ts: NOW, line: '' });
  });

  it('unescapes \\" \\\\ and \\] in PARAM-VALUEs, keeps any other backslash, and joins a repeated PARAM-NAME', () => {
    const sd = String.raw`[x@1 q="say \"hi\"" b="C:\\dir" c="[a\]" d="keep \n" who="Zoë" r="1" r="2"]`;
    expect(one(`<13>1 - h a - - ${sd} m`).attrs).toEqual({
      'x@1.q': 'say "hi"',
      'x@1.b': 'C:\\dir',
      'x@1.c': '[a]',
      'x@1.d': 'keep \\n',
      'x@1.who': 'Zoë',
      'x@1.r': '1,2',
    });
  });

  it('stores a message whose timestamp is outside the accepted window at the receive time, with the original in syslog_timestamp', () => {
    expect(one('<13>1 2026-12-01T21:00:00Z h a - - - from the future')).toEqual({
      labels: { facility: 'user', level: 'notice', host: 'h', app: 'a' },
      ts: NOW,
      line: 'from the future',
      attrs: { syslog_timestamp: '2026-12-01T21:00:00Z' },
    });
    expect(one(`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}old`)).toEqual({
      labels: { facility: 'auth', level: 'critical', host: 'mymachine.example.com', app: 'su' },
      ts: NOW,
      line: 'old',
      attrs: { msgid: 'ID47', syslog_timestamp: '2003-10-11T22:14:15.003Z' },
    });
  });

  it('keeps the fields of a message whose timestamp is unreadable, noting bad_timestamp', () => {
    expect(one('<13>1 yesterday h a - - - msg')).toEqual({
      labels: { facility: 'user', level: 'notice', host: 'h', app: 'a' },
      ts: NOW,
      line: 'msg',
      attrs: { syslog_error: 'bad_timestamp', syslog_timestamp: 'yesterday' },
    });
    expect(one('<13>1 2026-13-01T00:00:00Z h a - - - msg').attrs).toEqual({ syslog_error: 'bad_timestamp', syslog_timestamp: '2026-13-01T00:00:00Z' });
  });

  it('stores a message with a malformed header or structured data whole, as a raw line with the reason', () => {
    const raw = (m: string, reason: string): void =>
      expect(one(m)).toEqual({ labels: { facility: 'user', level: 'notice' }, ts: NOW, line: m, attrs: { syslog_error: reason } });
    raw('<13>1 2026-12-01T19:00:00Z', 'bad_header');
    raw('<13>1 - h app', 'bad_header');
    raw(`<13>1 - ${'h'.repeat(256)} a - - - m`, 'bad_header');
    raw(`<13>1 - h ${'a'.repeat(49)} - - - m`, 'bad_header');
    raw('<13>1 - h a - - [x@1 a="1" unterminated', 'bad_structured_data');
    raw('<13>1 - h a - - [x@1 a=1] m', 'bad_structured_data');
    raw('<13>1 - h a - - [x@1 a="1"]m', 'bad_structured_data');
    raw('<13>1 - h a - - [] m', 'bad_structured_data');
    raw('<13>1 - h a - - x m', 'bad_structured_data');
  });

  it('replaces invalid UTF-8 in MSG and structured data with U+FFFD, noting invalid_utf8', () => {
    expect(one(Buffer.concat([Buffer.from('<13>1 - h a - - - caf'), Buffer.from([0xe9])]))).toEqual({
      labels: { facility: 'user', level: 'notice', host: 'h', app: 'a' },
      ts: NOW,
      line: 'caf\ufffd',
      attrs: { syslog_error: 'invalid_utf8' },
    });
    expect(one(Buffer.concat([Buffer.from('<13>1 - h a - - [x@1 v="'), Buffer.from([0xc3, 0x28]), Buffer.from('"] ok')])).attrs).toEqual({
      'x@1.v': '\ufffd(',
      syslog_error: 'invalid_utf8',
    });
  });
});

describe('ingest > syslog parse > RFC 3164', () => {
  it('reads the RFC examples (section 5.4)', () => {
    expect(one(`<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`, { now: '2026-10-11T22:20:00Z' })).toEqual({
      labels: { facility: 'auth', level: 'critical', host: 'mymachine', app: 'su' },
      ts: ns('2026-10-11T22:14:15Z'),
      line: "'su root' failed for lonvick on /dev/pts/8",
    });
    expect(one('<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!', { now: '2026-02-05T17:40:00Z' })).toEqual({
      labels: { facility: 'user', level: 'notice', host: '10.0.0.99' },
      ts: ns('2026-02-05T17:32:18Z'),
      line: 'Use the BFG!',
    });
    // Its third example puts "CST 1987" after the time, which a receiver cannot tell from a host.
    expect(one("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.", { now: '2026-08-24T05:40:00Z' })).toEqual({
      labels: { facility: 'local4', level: 'notice', host: 'CST' },
      ts: ns('2026-08-24T05:34:00Z'),
      line: "1987 mymachine myproc[10]: %% It's time to make the do-nuts.",
    });
    // No timestamp where one belongs: a relay takes everything after the PRI as the content (4.3.2).
    expect(one("<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!")).toEqual({
      labels: { facility: 'kern', level: 'emerg' },
      ts: NOW,
      line: "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
    });
  });

  it("reads what syslog-ng's network() and rsyslog's traditional format send", () => {
    expect(one('<156>Dec  1 20:45:15 h1 numbers: line 0001\n', { now: '2026-12-01T20:45:16Z' })).toEqual({
      labels: { facility: 'local3', level: 'warn', host: 'h1', app: 'numbers' },
      ts: ns('2026-12-01T20:45:15Z'),
      line: 'line 0001',
    });
    expect(one('<86>Dec  1 19:59:58 web1 sshd[1234]: Accepted publickey for root from 10.0.0.1 port 22 ssh2')).toEqual({
      labels: { facility: 'authpriv', level: 'info', host: 'web1', app: 'sshd' },
      ts: ns('2026-12-01T19:59:58Z'),
      line: 'Accepted publickey for root from 10.0.0.1 port 22 ssh2',
      attrs: { procid: '1234' },
    });
  });

  it("reads rsyslog's forward format, whose timestamp is RFC 3339", () => {
    expect(one('<30>2026-12-01T19:59:58.123456+01:00 web1 nginx[811]: GET / 200')).toEqual({
      labels: { facility: 'daemon', level: 'info', host: 'web1', app: 'nginx' },
      ts: ns('2026-12-01T18:59:58.123456Z'),
      line: 'GET / 200',
      attrs: { procid: '811' },
    });
  });

  it('tells a tag from a host: no host, tag forms, IPv6 hosts, no tag', () => {
    const at = ns('2026-12-01T19:59:00Z');
    expect(one('<13>Dec  1 19:59:00 root: hello')).toEqual({ labels: { facility: 'user', level: 'notice', app: 'root' }, ts: at, line: 'hello' });
    expect(one('<14>Dec  1 19:59:00 mx postfix/smtpd[123]: connect from x')).toMatchObject({
      labels: { host: 'mx', app: 'postfix/smtpd' },
      line: 'connect from x',
      attrs: { procid: '123' },
    });
    expect(one('<14>Dec  1 19:59:00 h app[9] no colon')).toMatchObject({ labels: { host: 'h', app: 'app' }, line: 'no colon', attrs: { procid: '9' } });
    expect(one('<14>Dec  1 19:59:00 fe80::1 kernel: link up')).toMatchObject({ labels: { host: 'fe80::1', app: 'kernel' }, line: 'link up' });
    expect(one('<14>Dec  1 19:59:00 h just words: here')).toEqual({ labels: { facility: 'user', level: 'info', host: 'h' }, ts: at, line: 'just words: here' });
    expect(one('<14>Dec  1 19:59:00 h')).toEqual({ labels: { facility: 'user', level: 'info', host: 'h' }, ts: at, line: '' });
  });

  it('reads timestamps with a fraction, with a year, with an unpadded day, and across the new year', () => {
    expect(one('<14>Dec  1 19:59:00.250 h app: x').ts).toBe(ns('2026-12-01T19:59:00.25Z'));
    expect(one('<14>Dec 1 19:59:00 h app: x').ts).toBe(ns('2026-12-01T19:59:00Z'));
    expect(one('<189>Dec  1 2026 19:59:00 router1 %LINK-3-UPDOWN: Interface up')).toEqual({
      labels: { facility: 'local7', level: 'notice', host: 'router1', app: '%LINK-3-UPDOWN' },
      ts: ns('2026-12-01T19:59:00Z'),
      line: 'Interface up',
    });
    expect(one('<14>Dec 31 23:59:59 h app: last of the year', { now: '2027-01-01T00:00:05Z' }).ts).toBe(ns('2026-12-31T23:59:59Z'));
  });

  it('stores a message with an impossible date at the receive time, noting bad_timestamp', () => {
    expect(one('<14>Feb 30 10:00:00 h app: x')).toEqual({
      labels: { facility: 'user', level: 'info', host: 'h', app: 'app' },
      ts: NOW,
      line: 'x',
      attrs: { syslog_error: 'bad_timestamp', syslog_timestamp: 'Feb 30 10:00:00' },
    });
    expect(one('<34>Oct 11 22:14:15 mymachine su: too old').attrs).toEqual({ syslog_timestamp: 'Oct 11 22:14:15' });
  });
});

describe('ingest > syslog parse > PRI, garbage and limits', () => {
  it('names every facility and severity', () => {
    for (let pri = 0; pri <= 191; pri++) {
      expect(one(`<${pri}>1 - h a - - - x`).labels).toEqual({ facility: FACILITY_NAMES[pri >> 3], level: LEVEL_NAMES[pri & 7], host: 'h', app: 'a' });
    }
    expect(FACILITY_NAMES).toEqual([
      'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron',
      'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
    ]);
    expect(LEVEL_NAMES).toEqual(['emerg', 'alert', 'critical', 'error', 'warn', 'notice', 'info', 'debug']);
  });

  it('stores a message without a valid PRI whole, as user.notice (RFC 3164 4.3.3), noting why', () => {
    const raw = (m: string | Buffer, line: string, reason: string): void =>
      expect(one(m)).toEqual({ labels: { facility: 'user', level: 'notice' }, ts: NOW, line, attrs: { syslog_error: reason } });
    raw('hello world', 'hello world', 'no_pri');
    raw('Dec  1 19:59:00 h app: no pri', 'Dec  1 19:59:00 h app: no pri', 'no_pri');
    raw(Buffer.from([0xff, 0xfe, 0x41, 0x0a]), '\ufffd\ufffdA', 'no_pri');
    for (const m of ['<999>x', '<192>x', '<abc>x', '<>x', '<13', '<1234>x', '<-1>x']) raw(m, m, 'bad_pri');
  });

  it('stores nothing for a message of only line ends', () => {
    expect(store(['\n', '\r\n', '']).entries).toEqual([]);
  });

  it('cuts a line over the limit on a character boundary, noting the message size in syslog_truncated', () => {
    const head = '<13>1 - h a - - - ';
    const m = head + 'x'.repeat(40);
    expect(one(m, { limits: { maxLineBytes: 16 } })).toEqual({
      labels: { facility: 'user', level: 'notice', host: 'h', app: 'a' },
      ts: NOW,
      line: 'x'.repeat(16),
      attrs: { syslog_truncated: String(m.length) },
    });
    expect(one(head + 'é'.repeat(20), { limits: { maxLineBytes: 15 } }).line).toBe('é'.repeat(7));
    expect(one(Buffer.concat([Buffer.from(head), Buffer.alloc(20, 0xff)]), { limits: { maxLineBytes: 10 } })).toMatchObject({
      line: '\ufffd'.repeat(3),
      attrs: { syslog_error: 'invalid_utf8', syslog_truncated: String(head.length + 20) },
    });
  });

  it('notes syslog_truncated on a message the framer cut', () => {
    const parser = new SyslogParser(LIMITS.maxLineBytes);
    const batch = new SyslogBatch(parser, LIMITS, NOW);
    const buf = Buffer.from('<13>1 - h a - - - the start of something long');
    batch.add(buf, 0, buf.length, 1_000_000, true);
    expect(batch.result().streams[0]!.entries).toEqual([{ ts: NOW, line: 'the start of something long', attrs: { syslog_truncated: '1000000' } }]);
    expect(batch.truncated).toBe(1);
  });

  it('stores a message whose structured data is over the attribute limits as its raw line, under its labels', () => {
    const m = '<13>1 - h a - - [x@1 a="1" b="2" c="3"] msg';
    expect(one(m, { limits: { maxAttrs: 2 } })).toEqual({
      labels: { facility: 'user', level: 'notice', host: 'h', app: 'a' },
      ts: NOW,
      line: m,
      attrs: { syslog_error: 'attrs_over_limit' },
    });
  });

  it('rejects only a label set the limits refuse', () => {
    const { entries, rejected } = store(['<13>1 - verylonghostname a - - - x', '<13>1 - short a - - - y'], { limits: { maxLabelValueBytes: 8 } });
    expect(entries).toEqual([{ labels: { facility: 'user', level: 'notice', host: 'short', app: 'a' }, ts: NOW, line: 'y' }]);
    expect(rejected).toEqual([{ stream: 0, entry: 0, code: 'SILT_BAD_LABELS', reason: expect.stringContaining('"host"') }]);
  });

  it('groups messages into one stream per label set, in order, and counts them', () => {
    const msgs = ['<13>1 - h a - - - 1', '<13>1 - h b - - - 2', '<13>1 - h a - - - 3', '<14>1 - h a - - - 4', 'garbage', '<13>1 - h a - - - 5'];
    const { batch } = store(msgs);
    const push = batch.result();
    expect(push.streams.map((s) => [s.labels, s.entries.map((e) => e.line)])).toEqual([
      [{ facility: 'user', level: 'notice', host: 'h', app: 'a' }, ['1', '3', '5']],
      [{ facility: 'user', level: 'notice', host: 'h', app: 'b' }, ['2']],
      [{ facility: 'user', level: 'info', host: 'h', app: 'a' }, ['4']],
      [{ facility: 'user', level: 'notice' }, ['garbage']],
    ]);
    expect(push.accepted).toBe(6);
    expect(batch.messages).toBe(6);
    expect(batch.bytes).toBe(msgs.reduce((n, m) => n + m.length, 0));
    expect([...batch.malformed]).toEqual([['no_pri', 1]]);
    expect(batch.full(6, 1 << 20)).toBe(true);
    expect(batch.full(7, 1 << 20)).toBe(false);
  });
});
