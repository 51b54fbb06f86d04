/**
 * The built-in `redact` plugin (ingest): every match of its `patterns` (RE2 regexes, such as card
 * numbers or emails) in a line — and, unless `attrs` is false, in an attribute's value — is
 * replaced by `replacement` before the entry is partitioned, so the secret never reaches Kafka.
 * A line without a substring every match must contain (the `@` of an email), or without a run of
 * characters every match must contain (a card number's digits), is not searched, and whether a
 * line holds a match is asked of a regex that tries fewer start positions (prefilters.ts).
 */
import { compileRe2 } from '../../logql/re2';
import type { SiltPlugin } from '../types';
import { onlyKeys, pipelineCounter, stringList, stringOption, tenantsOption, within } from './options';
import { hasRun, requiredLiteral, requiredRun, runStartTest, type RequiredRun } from './prefilters';

/** A pattern, a substring and a run every match of it contains (a line without them is not searched), and a faster regex for whether a line holds a match. */
interface Pattern {
  re: RegExp;
  literal: string | null;
  run: RequiredRun | null;
  test: RegExp;
}

interface RedactOptions {
  applies: (tenant: string) => boolean;
  patterns: Pattern[];
  replacement: string;
  attrs: boolean;
}

/** `text` with every match of `patterns` replaced; the same string when nothing matched. */
function redact(text: string, patterns: readonly Pattern[], replacement: string): string {
  let out = text;
  for (const { re, literal, run, test } of patterns) {
    if (literal !== null && !out.includes(literal)) continue;
    if (run !== null && !hasRun(out, run)) continue;
    test.lastIndex = 0;
    if (test.test(out)) out = out.replace(re, replacement);
  }
  return out;
}

/** `redact`: options `tenants` (default all), `patterns`, `replacement` (default `[REDACTED]`), `attrs` (default true). */
export const redactPlugin: SiltPlugin<RedactOptions> = {
  name: 'redact',
  services: ['ingest'],
  options: (raw) => {
    onlyKeys(raw, ['tenants', 'patterns', 'replacement', 'attrs']);
    const patterns = stringList(raw, 'patterns');
    if (patterns.length === 0) throw new Error('patterns: must hold at least one regex');
    if (raw.attrs !== undefined && typeof raw.attrs !== 'boolean') throw new Error('attrs: must be true or false');
    return {
      applies: tenantsOption(raw),
      patterns: patterns.map((p, i) =>
        within(`patterns[${i}]`, () => {
          const re = compileRe2(p, 'a redact pattern');
          // An empty match would insert the replacement between every character.
          if (re.test('')) throw new Error(`"${p}" matches the empty string`);
          return { re: new RegExp(re.source, re.flags + 'g'), literal: requiredLiteral(p), run: requiredRun(re), test: runStartTest(re) };
        }),
      ),
      replacement: stringOption(raw, 'replacement', '[REDACTED]'),
      attrs: raw.attrs !== false,
    };
  },
  create: (o, ctx) => {
    const counted = pipelineCounter(ctx.registry).labels({ rule: ctx.id, action: 'redacted' });
    return {
      appliesTo: o.applies,
      onPush: (_tenant, streams) => {
        let changed = 0;
        for (const s of streams) {
          for (let i = 0; i < s.entries.length; i++) {
            const e = s.entries[i]!;
            const line = redact(e.line, o.patterns, o.replacement);
            let attrs = e.attrs;
            if (o.attrs && attrs !== undefined) {
              for (const [k, v] of Object.entries(attrs)) {
                const r = redact(v, o.patterns, o.replacement);
                if (r !== v) attrs = { ...attrs, [k]: r };
              }
            }
            if (line !== e.line || attrs !== e.attrs) {
              s.entries[i] = attrs === undefined ? { ts: e.ts, line } : { ts: e.ts, line, attrs };
              changed++;
            }
          }
        }
        if (changed > 0) counted.inc(changed);
      },
    };
  },
};
