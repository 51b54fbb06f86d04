/** The Loghub sample corpus (https://github.com/logpai/loghub), one stream per file, as tests replay it. */
import fs from 'node:fs';
import path from 'node:path';

/** Where the corpus sits: `../shared/corpus/loghub` from the repository root. */
export const CORPUS_DIR = path.resolve(__dirname, '../../../shared/corpus/loghub');

/** One file of the corpus: its stem as the `app` label, and its lines. */
export interface CorpusStream {
  app: string;
  lines: string[];
}

/** Reads every `*.log` of the corpus, in name order. */
export function loadCorpus(): CorpusStream[] {
  return fs
    .readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((f) => ({
      app: path.basename(f, '.log'),
      lines: fs.readFileSync(path.join(CORPUS_DIR, f), 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== ''),
    }));
}
