/** The LogQL editor: label-name and label-value completion inside a selector's braces, and the position of a query's error marked in its text. */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SiltClient } from '../../../client/src';

/** What to complete at the caret: a label name, or a value of one label, and the text typed of it so far. */
export interface CompletionContext {
  kind: 'name' | 'value';
  label?: string;
  prefix: string;
  /** Where the completed text starts. */
  from: number;
}

/** The completion context of `text` with the caret at `caret`, or null outside a selector's braces. */
export function completionAt(text: string, caret: number): CompletionContext | null {
  const before = text.slice(0, caret);
  const open = before.lastIndexOf('{');
  if (open < 0 || before.lastIndexOf('}') > open) return null;
  const inside = before.slice(open + 1);
  // Strings already closed are skipped: count quotes outside escapes.
  const value = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/.exec(inside);
  if (value !== null) return { kind: 'value', label: value[1]!, prefix: value[2]!, from: caret - value[2]!.length };
  const name = /(?:^|,)\s*([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(inside);
  if (name !== null && (inside.match(/"/g)?.length ?? 0) % 2 === 0) return { kind: 'name', prefix: name[1] ?? '', from: caret - (name[1] ?? '').length };
  return null;
}

interface EditorProps {
  value: string;
  onChange(v: string): void;
  onRun(): void;
  client: SiltClient;
  range: { start: string; end: string };
  /** The error of the last run: its message and 0-based position in the query, when it had one. */
  error: { message: string; position?: number } | null;
}

/** See the module comment. Enter runs; Tab or Enter takes a completion; arrows move in the list; Escape closes it. */
export function QueryEditor({ value, onChange, onRun, client, range, error }: EditorProps) {
  const input = useRef<HTMLInputElement>(null);
  const [items, setItems] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const [ctx, setCtx] = useState<CompletionContext | null>(null);
  const cache = useRef(new Map<string, Promise<string[]>>());

  const lookup = (c: CompletionContext): Promise<string[]> => {
    const key = c.kind === 'name' ? 'names' : `v:${c.label}`;
    let p = cache.current.get(key);
    if (p === undefined) {
      p = (c.kind === 'name' ? client.labels(range) : client.labelValues(c.label!, range)).catch(() => []);
      cache.current.set(key, p);
    }
    return p;
  };

  useEffect(() => cache.current.clear(), [client, range.start, range.end]);

  const refresh = (text: string, caret: number): void => {
    const c = completionAt(text, caret);
    setCtx(c);
    if (c === null) return setItems([]);
    void lookup(c).then((all) => {
      const matching = all.filter((x) => x.startsWith(c.prefix) && x !== c.prefix).slice(0, 12);
      setItems(matching);
      setActive(0);
    });
  };

  const accept = (item: string): void => {
    if (ctx === null) return;
    const caret = input.current?.selectionStart ?? value.length;
    const insert = ctx.kind === 'name' ? `${item}="` : `${item.replace(/["\\]/g, '\\$&')}"`;
    const next = value.slice(0, ctx.from) + insert + value.slice(caret);
    onChange(next);
    setItems([]);
    const at = ctx.from + insert.length;
    requestAnimationFrame(() => {
      input.current?.setSelectionRange(at, at);
      input.current?.focus();
      refresh(next, at);
    });
  };

  const onKeyDown = (e: KeyboardEvent): void => {
    if (items.length > 0) {
      if (e.key === 'ArrowDown') return void (e.preventDefault(), setActive((active + 1) % items.length));
      if (e.key === 'ArrowUp') return void (e.preventDefault(), setActive((active - 1 + items.length) % items.length));
      if (e.key === 'Tab' || (e.key === 'Enter' && !e.ctrlKey)) return void (e.preventDefault(), accept(items[active]!));
      if (e.key === 'Escape') return void setItems([]);
    }
    if (e.key === 'Enter') {
      e.preventDefault();
      setItems([]);
      onRun();
    }
  };

  const pos = error?.position;
  return (
    <div class="editor">
      <input
        ref={input}
        id="query"
        class={error ? 'query has-error' : 'query'}
        spellcheck={false}
        autocomplete="off"
        placeholder='{app="api"} |= "error"   (Enter runs)'
        aria-label="LogQL query"
        value={value}
        onInput={(e) => {
          const el = e.currentTarget;
          onChange(el.value);
          refresh(el.value, el.selectionStart ?? el.value.length);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setTimeout(() => setItems([]), 150)}
      />
      {items.length > 0 && (
        <ul class="completions" role="listbox">
          {items.map((item, i) => (
            <li key={item} role="option" aria-selected={i === active} class={i === active ? 'active' : ''} onMouseDown={(e) => (e.preventDefault(), accept(item))}>
              {item}
            </li>
          ))}
        </ul>
      )}
      {error && (
        <div class="query-error" role="alert">
          {pos !== undefined && pos >= 0 && pos <= value.length && (
            <pre class="error-text">
              {value.slice(0, pos)}
              <mark class="error-at">{value.slice(pos, pos + 1) || ' '}</mark>
              {value.slice(pos + 1)}
            </pre>
          )}
          <span class="error-message">{error.message}</span>
        </div>
      )}
    </div>
  );
}
