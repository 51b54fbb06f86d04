/** The benchmark's push bodies: each replay cycle of the corpus varies the lines' digits in place, and nothing else. */
import { batchStreams, buildTemplates, cycleBatches, lineOfEntry, stampBatch, varyRun, type Clock } from '../../bench/src/bodies';
import { pickWords } from '../../bench/src/word-queries';
import type { CorpusStream } from '../../test/support/corpus';

const corpus: CorpusStream[] = [
  { app: 'a', lines: ['user 42 logged in from 10.0.0.7', 'no digits here', 'esc \u001b[31m 9 é 7'] },
  { app: 'b', lines: ['took 1234 ms', 'emoji 😀 5'] },
];
const clock: Clock = { baseMs: 1_700_000_000_000, stepUs: 1000 };

type Pushed = { streams: { labels: { app: string }; entries: { ts: string; line: string }[] }[] };
const lines = (body: Buffer): string[] => (JSON.parse(body.toString('utf8')) as Pushed).streams.flatMap((s) => s.entries.map((e) => e.line));

describe('bench > bodies > replay cycles', () => {
  const templates = buildTemplates(corpus, 3);
  const cycle = templates.length * 3;

  test('the first cycle sends the corpus as it is', () => {
    expect(lines(stampBatch(templates, 0, clock).body)).toEqual(lines(templates[0]!.body));
    expect(lines(templates[0]!.body)).toContain('user 42 logged in from 10.0.0.7');
  });

  test('later cycles change the numbers of every line that has one, keep every other character and stay valid JSON', () => {
    const byCycle: string[][] = [];
    for (let c = 0; c <= 3; c++) {
      const all: string[] = [];
      for (let k = 0; k < templates.length; k++) {
        const base = lines(templates[k]!.body);
        const varied = lines(stampBatch(templates, c * cycle + k * 3, clock).body);
        expect(varied).toHaveLength(base.length);
        varied.forEach((line, i) => {
          const orig = base[i]!;
          expect(line.length).toBe(orig.length);
          expect(line.replace(/[0-9]/g, '#')).toBe(orig.replace(/[0-9]/g, '#'));
        });
        all.push(...varied);
      }
      byCycle.push(all);
    }
    const withDigits = byCycle[0]!.map((l, i) => [l, i] as const).filter(([l]) => /[0-9]/.test(l));
    expect(withDigits.length).toBeGreaterThan(0);
    for (const [, i] of withDigits) expect(new Set(byCycle.map((c) => c[i])).size).toBe(byCycle.length);
    expect(byCycle[2]!.filter((l) => !/[0-9]/.test(l))).toEqual(byCycle[0]!.filter((l) => !/[0-9]/.test(l)));
  });
});

describe('bench > bodies > varyRun', () => {
  const varied = (digits: string, cycle: number): string => {
    const b = Buffer.from(`x${digits}y`);
    varyRun(b, 1, digits.length, cycle);
    return b.toString();
  };

  test('shifts the number by cycle × 7919 modulo its width, zero-padded, in pieces of 15 digits', () => {
    expect(varied('0047', 0)).toBe('x0047y');
    expect(varied('0047', 1)).toBe('x7966y');
    expect(varied('9', 1)).toBe('x8y');
    expect(varied('47', 2)).toBe('x85y');
    expect(varied('1234567890123456', 1)).toBe(`x${String(123456789012345 + 7919).padStart(15, '0')}${(6 + 9) % 10}y`);
  });
});

describe('bench > bodies > entry layout', () => {
  test('lineOfEntry names the line batchStreams gives every entry, over several cycles', () => {
    const batch = 3;
    const lineOf = lineOfEntry(corpus, batch);
    const batches = cycleBatches(corpus, batch);
    for (let k = 0; k < 3 * batches; k++) {
      for (const group of batchStreams(corpus, batch, k % batches)) {
        group.entryIndex.forEach((i, n) => expect(lineOf(k * batch + i)).toBe(group.lines[n]));
      }
    }
  });
});

describe('bench > word queries > words', () => {
  test('picks the rarest and the most common word of six letters or more, by the lines holding them', () => {
    const lines = ['alpha charlie bravoo', 'charlie deltaa', 'charlie deltaa x1234567', 'zulu'];
    expect(pickWords(lines)).toEqual({ rare: 'bravoo', common: 'charlie' });
  });
});
