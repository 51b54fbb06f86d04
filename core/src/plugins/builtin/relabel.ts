/**
 * The built-in `relabel` plugin (ingest): Prometheus relabelling rules over each stream's labels,
 * with Prometheus's names and meaning — `source_labels` joined by `separator` (default `;`), a
 * fully anchored RE2 `regex` (default `(.*)`), `replacement` (default `$1`, with `$1`, `${1}`,
 * `$name`, `${name}` and `$$`), and `action`:
 * - `replace` (default): when the regex matches, `target_label` becomes the expanded replacement (an empty result removes it);
 * - `keep` / `drop`: the stream is kept only when the regex matches / dropped when it matches;
 * - `labelmap`: every label whose name matches is copied to the name the replacement expands to;
 * - `labeldrop` / `labelkeep`: labels whose names match are removed / all others are.
 * Rules run in order; a stream a rule dropped meets no further rule.
 */
import { LABEL_NAME_RE, labelsKey, type Labels } from '../../labels';
import { compileRe2 } from '../../logql/re2';
import type { PushStreamView, SiltPlugin } from '../types';
import { onlyKeys, pipelineCounter, stringList, stringOption, tenantsOption, within, type RawOptions } from './options';

const ACTIONS = ['replace', 'keep', 'drop', 'labelmap', 'labeldrop', 'labelkeep'] as const;
type Action = (typeof ACTIONS)[number];

interface Rule {
  action: Action;
  sourceLabels: string[];
  separator: string;
  regex: RegExp;
  targetLabel: string;
  replacement: string;
}

interface RelabelOptions {
  applies: (tenant: string) => boolean;
  rules: Rule[];
}

/** `template` with `$1`, `${1}`, `$name`, `${name}` taken from `m` (absent groups: empty) and `$$` as `$`, as Go's Regexp.Expand does. */
export function expandTemplate(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, what: string, braced?: string, bare?: string) => {
    if (what === '$') return '$';
    const name = braced ?? bare!;
    const value = /^\d+$/.test(name) ? m[Number(name)] : m.groups?.[name];
    return value ?? '';
  });
}

function parseRule(raw: unknown, i: number): Rule {
  return within(`rules[${i}]`, () => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('must be an object');
    const r = raw as RawOptions;
    onlyKeys(r, ['action', 'source_labels', 'separator', 'regex', 'target_label', 'replacement']);
    const action = stringOption(r, 'action', 'replace') as Action;
    if (!ACTIONS.includes(action)) throw new Error(`action: "${action}" is not one of ${ACTIONS.join(', ')}`);
    const regexText = stringOption(r, 'regex', '(.*)');
    const regex = within('regex', () => compileRe2(regexText, 'a relabel rule', { anchored: true }));
    const rule: Rule = {
      action,
      sourceLabels: stringList(r, 'source_labels', []),
      separator: stringOption(r, 'separator', ';'),
      regex,
      targetLabel: stringOption(r, 'target_label', ''),
      replacement: stringOption(r, 'replacement', '$1'),
    };
    if (action === 'replace' && !LABEL_NAME_RE.test(rule.targetLabel)) throw new Error(`target_label: "${rule.targetLabel}" must be a label name (replace needs one)`);
    if ((action === 'keep' || action === 'drop' || action === 'replace') && rule.sourceLabels.length === 0) throw new Error(`source_labels: ${action} needs at least one`);
    return rule;
  });
}

/** The labels after `rule`, or null when the rule drops the stream. */
export function applyRule(rule: Rule, labels: Labels): Labels | null {
  const value = (): string => rule.sourceLabels.map((n) => labels[n] ?? '').join(rule.separator);
  switch (rule.action) {
    case 'keep':
      return rule.regex.test(value()) ? labels : null;
    case 'drop':
      return rule.regex.test(value()) ? null : labels;
    case 'replace': {
      const m = rule.regex.exec(value());
      if (m === null) return labels;
      const out = { ...labels };
      const target = expandTemplate(rule.replacement, m);
      if (target === '') delete out[rule.targetLabel];
      else out[rule.targetLabel] = target;
      return out;
    }
    case 'labelmap': {
      const out = { ...labels };
      for (const [name, v] of Object.entries(labels)) {
        const m = rule.regex.exec(name);
        if (m !== null) out[expandTemplate(rule.replacement, m)] = v;
      }
      return out;
    }
    case 'labeldrop':
    case 'labelkeep': {
      const out: Labels = {};
      const keepMatching = rule.action === 'labelkeep';
      for (const [name, v] of Object.entries(labels)) if (rule.regex.test(name) === keepMatching) out[name] = v;
      return out;
    }
  }
}

/** `relabel`: options `tenants` (default all) and `rules`. */
export const relabelPlugin: SiltPlugin<RelabelOptions> = {
  name: 'relabel',
  services: ['ingest'],
  options: (raw) => {
    onlyKeys(raw, ['tenants', 'rules']);
    const rules = raw.rules;
    if (!Array.isArray(rules) || rules.length === 0) throw new Error('rules: must be a list of at least one rule');
    return { applies: tenantsOption(raw), rules: rules.map(parseRule) };
  },
  create: (o, ctx) => {
    const counter = pipelineCounter(ctx.registry);
    const dropped = counter.labels({ rule: ctx.id, action: 'dropped' });
    const relabelled = counter.labels({ rule: ctx.id, action: 'relabelled' });
    return {
      appliesTo: o.applies,
      onPush: (_tenant, streams) => {
        const out: PushStreamView[] = [];
        for (const s of streams) {
          let labels: Labels | null = s.labels;
          for (const rule of o.rules) {
            labels = applyRule(rule, labels);
            if (labels === null) break;
          }
          if (labels === null) dropped.inc(s.entries.length);
          else {
            if (labels !== s.labels && labelsKey(labels) !== labelsKey(s.labels)) relabelled.inc(s.entries.length);
            out.push({ labels, entries: s.entries });
          }
        }
        return out;
      },
    };
  },
};
