/** The benchmark's push bodies: each replay cycle of the corpus varies the lines' digits in place, and nothing else. */
import { batchStreams, buildTemplates, cycleBatches, lineOfEntry, stampBatch, varyDigit, type Clock } from '../../bench/src/bodies';
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

  test('later cycles change every digit of every line, keep every other character and stay valid JSON', () => {
    for (let c = 1; c <= 3; c++) {
      for (let k = 0; k < templates.length; k++) {
        const base = lines(templates[k]!.body);
        const varied = lines(stampBatch(templates, c * cycle + k * 3, clock).body);
        expect(varied).toHaveLength(base.length);
        varied.forEach((line, i) => {
          const orig = base[i]!;
          expect(line.length).toBe(orig.length);
          expect(line.replace(/[0-9]/g, '#')).toBe(orig.replace(/[0-9]/g, '#'));
          for (let j = 0; j < line.length; j++) if (/[0-9]/.test(orig[j]!)) expect(line[j]).not.toBe(orig[j]);
        });
      }
    }
    expect(lines(stampBatch(templates, cycle, clock).body)).not.toEqual(lines(stampBatch(templates, 2 * cycle, clock).body));
  });

  test('varyDigit is deterministic and never keeps a digit after the first cycle', () => {
    for (let d = 0; d < 10; d++) {
      expect(varyDigit(d, 0, 5)).toBe(d);
      for (let c = 1; c < 50; c++) {
        const v = varyDigit(d, c, c * 7);
        expect(v).toBe(varyDigit(d, c, c * 7));
        expect(v).not.toBe(d);
        expect(v >= 0 && v <= 9).toBe(true);
      }
    }
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
