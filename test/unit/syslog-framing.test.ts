import { SyslogFramer, type FramingError } from '../../ingest/src/syslog/framing';

interface Frame {
  text: string;
  size: number;
  utf8: boolean;
}

interface Outcome {
  frames: Frame[];
  error: FramingError | null;
}

/** Feeds `chunks` to a framer (then ends the stream unless it failed) and returns what it delivered. */
function frame(chunks: (string | Buffer)[], keepBytes = 1 << 20, maxBytes = 1 << 22, end = true): Outcome {
  const frames: Frame[] = [];
  const framer = new SyslogFramer(keepBytes, maxBytes, (buf, start, stop, size, utf8) => {
    frames.push({ text: buf.toString('latin1', start, stop), size, utf8 });
  });
  for (const c of chunks) {
    const error = framer.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1'));
    if (error !== null) return { frames, error };
  }
  if (end) framer.end();
  return { frames, error: null };
}

function texts(o: Outcome): string[] {
  return o.frames.map((f) => f.text);
}

/** Every way to cut `stream` in two, plus one byte per chunk. */
function splits(stream: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 0; i <= stream.length; i++) out.push([stream.subarray(0, i), stream.subarray(i)]);
  out.push([...stream].map((b) => Buffer.from([b])));
  return out;
}

function octets(msg: string): string {
  return `${Buffer.byteLength(msg, 'latin1')} ${msg}`;
}

describe('ingest > syslog framing > non-transparent (LF and NUL trailers)', () => {
  it('splits on LF, leaves a CR before it for the parser, and skips empty lines', () => {
    expect(texts(frame(['<13>one\n<13>two\r\n\n\r\n<13>three\n']))).toEqual(['<13>one', '<13>two\r', '<13>three']);
  });

  it('takes NUL as a trailer too', () => {
    expect(texts(frame(['<13>one\0<13>two\0\0<13>three\n']))).toEqual(['<13>one', '<13>two', '<13>three']);
  });

  it('delivers the last message of a stream that ends without a trailer', () => {
    expect(texts(frame(['<13>one\n<13>last']))).toEqual(['<13>one', '<13>last']);
    expect(texts(frame(['<13>one\n<13>last'], 1 << 20, 1 << 22, false))).toEqual(['<13>one']);
  });

  it('takes a line that starts with digits but no count for a line', () => {
    expect(texts(frame(['2026-12-01 10:00:00 plain log\n42\n123456789012345678901 x\n']))).toEqual([
      '2026-12-01 10:00:00 plain log',
      '42',
      '123456789012345678901 x',
    ]);
  });
});

describe('ingest > syslog framing > octet counting', () => {
  it('reads LEN SP MSG frames, a LF inside the count belonging to the message', () => {
    const a = '<165>1 - host app - - - first\n';
    const b = '<165>1 - host app - - - second';
    const o = frame([octets(a) + octets(b)]);
    expect(o.frames).toEqual([
      { text: a, size: a.length, utf8: true },
      { text: b, size: b.length, utf8: true },
    ]);
  });

  it('skips stray line ends between frames', () => {
    expect(texts(frame([`${octets('<13>a')}\n\r\n${octets('<13>b')}\0`]))).toEqual(['<13>a', '<13>b']);
  });

  it('delivers a frame cut short by the end of the stream with its announced size', () => {
    expect(frame(['20 <13>only ten']).frames).toEqual([{ text: '<13>only ten', size: 20, utf8: true }]);
    expect(texts(frame(['123']))).toEqual(['123']);
  });
});

describe('ingest > syslog framing > mixed framings and chunking', () => {
  const msgs = ['<13>1 - h a - - - octet one\n', '<14>Dec  1 10:00:00 h app: lf two', '<15>1 - h a - - - octet three', '<16>nul four', 'garbage five'];
  const stream = Buffer.from(octets(msgs[0]!) + msgs[1] + '\n' + octets(msgs[2]!) + msgs[3] + '\0' + msgs[4] + '\n', 'latin1');

  it('tells the framing apart per message on one stream', () => {
    expect(texts(frame([stream]))).toEqual(msgs);
  });

  it('gives the same messages whatever the chunks, split at every byte', () => {
    for (const chunks of splits(stream)) expect(texts(frame(chunks))).toEqual(msgs);
  });

  it('cuts every message to keepBytes, reporting its size, and goes on with the next, at every split', () => {
    const long = '<13>1 - h a - - - ' + 'x'.repeat(60);
    const s = Buffer.from(octets(long) + long + '\n' + octets('<13>after') + '<13>tail\n', 'latin1');
    const want = [
      { text: long.slice(0, 16), size: long.length },
      { text: long.slice(0, 16), size: long.length },
      { text: '<13>after', size: 9 },
      { text: '<13>tail', size: 8 },
    ];
    for (const chunks of splits(s)) {
      const o = frame(chunks, 16, 1000);
      expect(o.error).toBeNull();
      expect(o.frames.map(({ text, size }) => ({ text, size }))).toEqual(want);
    }
  });

  it('marks frames of a chunk that is valid UTF-8 as such, and checks frames it had to assemble', () => {
    const s = Buffer.from('<13>café\n<13>naïve\n', 'utf8');
    expect(frame([s]).frames.map((f) => f.utf8)).toEqual([true, true]);
    // Cut inside "é": neither chunk is valid alone; the assembled frame is.
    const cut = s.indexOf(0xa9);
    expect(frame([s.subarray(0, cut), s.subarray(cut)]).frames.map((f) => f.utf8)).toEqual([true, false]);
    expect(frame([Buffer.from([0x3c, 0x31, 0x3e, 0xff, 0x0a])]).frames.map((f) => f.utf8)).toEqual([false]);
  });
});

describe('ingest > syslog framing > garbage and bounds', () => {
  it('ends the stream on a count over maxBytes, after delivering what came before', () => {
    const o = frame([octets('<13>fine') + '1000000000000 <13>never'], 1024, 4096);
    expect(o).toEqual({ frames: [{ text: '<13>fine', size: 8, utf8: true }], error: 'frame_too_large' });
  });

  it('holds no more than keepBytes of a message without a trailer, and ends the stream past maxBytes', () => {
    const delivered: Frame[] = [];
    const framer = new SyslogFramer(64, 100_000, (buf, start, stop, size, utf8) => delivered.push({ text: buf.toString('latin1', start, stop), size, utf8 }));
    const chunk = Buffer.alloc(10_000, 0x78);
    for (let i = 0; i < 9; i++) expect(framer.push(chunk)).toBeNull();
    framer.end();
    expect(delivered).toEqual([{ text: 'x'.repeat(64), size: 90_000, utf8: true }]);

    let error: FramingError | null = null;
    let fed = 0;
    while (error === null && fed < 1_000_000) {
      error = framer.push(chunk);
      fed += chunk.length;
    }
    expect(error).toBe('line_too_long');
    expect(fed).toBe(110_000);
    expect(delivered).toHaveLength(1);
  });

  it('accepts a message of exactly maxBytes in either framing', () => {
    const msg = '<13>' + 'y'.repeat(96);
    expect(frame([octets(msg) + msg + '\n'], 1000, 100)).toEqual({
      frames: [
        { text: msg, size: 100, utf8: true },
        { text: msg, size: 100, utf8: true },
      ],
      error: null,
    });
    expect(frame([msg + 'z\n'], 1000, 100).error).toBe('line_too_long');
    expect(frame([`101 ${msg}z`], 1000, 100).error).toBe('frame_too_large');
  });
});
