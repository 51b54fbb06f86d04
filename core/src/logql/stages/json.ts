/**
 * `| json` as Loki runs it. Without params every string, number and boolean field becomes a label
 * (nested keys joined with `_`, names sanitized, `_extracted` when the name is a stream label or
 * metadata name; arrays and nulls skipped; the first of duplicate keys wins); a syntax error keeps
 * the labels found before it and adds `__error__="JSONParserErr"` with jsonparser's message. With
 * params (`json a="x.y[0]", b`) only the given paths are read: a null is "", an object or array its
 * JSON text, and a path not found is "".
 */
import { BadRequestError } from '../../errors';
import type { ExtractionParam } from '../ast';
import { eachKey, JsonType, jsonStringValue, objectEach, type EachResult, type JsonValue } from './json-scan';
import { goTrimSpace } from './convert';
import { appendSanitized, DUPLICATE_SUFFIX, PipelineError, type LabelsBuilder } from './labels-builder';
import type { Stage } from './stage';

const FOUND_ALL = Symbol('found all required labels');
const NO_MATCH = Symbol('a label filter did not match');
const MAX_CACHED_KEYS = 1024;

/** The value of a scalar as a label: strings unescaped, numbers as written, booleans as true/false. */
function scalarValue(line: string, v: JsonValue): string {
  if (v.type === JsonType.String) return jsonStringValue(line.slice(v.start, v.end));
  if (v.type === JsonType.Boolean) return line.charCodeAt(v.start) === 116 ? 'true' : 'false';
  return line.slice(v.start, v.end);
}

/** A key path seen before, with its label name (the parts sanitized, joined with `_`). */
interface KeyNode {
  name: string;
  /** Whether the key is blank (it adds nothing to the name). */
  blank: boolean;
  children: Map<string, KeyNode>;
}

/** `| json` with no params. */
export class JsonStage implements Stage {
  /** Key paths already named, so that a line's labels cost no string building. */
  private readonly root: KeyNode = { name: '', blank: true, children: new Map() };
  private nodes = 1;
  private readonly path: KeyNode[] = [];
  private b!: LabelsBuilder;
  private line = '';
  private readonly each = (key: string, v: JsonValue): EachResult => this.field(key, v);

  process(_ts: bigint, line: string, b: LabelsBuilder): string | null {
    if (b.hints.noLabels()) return line;
    this.path.length = 0;
    this.path.push(this.root);
    this.b = b;
    this.line = line;
    const r = objectEach(line, 0, line.length, this.each);
    if (r === null || r === FOUND_ALL) return line;
    if (r === NO_MATCH) return null;
    b.addParserError(PipelineError.json, r as string);
    return line;
  }

  /** The node of `key` under `parent`: its name as Loki builds nested names (blank parts skipped, `_` between parts). */
  private child(parent: KeyNode, key: string): KeyNode {
    let node = parent.children.get(key);
    if (node !== undefined) return node;
    const blank = goTrimSpace(key) === '';
    const name = blank ? parent.name : appendSanitized(parent.name === '' ? '' : parent.name + '_', key);
    node = { name, blank, children: new Map() };
    if (this.nodes < MAX_CACHED_KEYS) {
      parent.children.set(key, node);
      this.nodes++;
    }
    return node;
  }

  private field(key: string, v: JsonValue): EachResult {
    let r: EachResult = null;
    const parent = this.path[this.path.length - 1]!;
    if (v.type === JsonType.String || v.type === JsonType.Number || v.type === JsonType.Boolean) {
      r = this.label(parent, this.child(parent, key), v);
    } else if (v.type === JsonType.Object) {
      const node = this.child(parent, key);
      if (this.b.hints.shouldExtractPrefix(node.name)) {
        this.path.push(node);
        r = objectEach(this.line, v.start, v.end, this.each);
        this.path.pop();
      }
      return r;
    }
    if (this.b.hints.allRequiredExtracted()) return FOUND_ALL;
    return r;
  }

  private label(parent: KeyNode, node: KeyNode, v: JsonValue): EachResult {
    const b = this.b;
    let name = node.name;
    if (name === '' && parent === this.root) return null;
    if (b.taken(name)) {
      if (!node.blank) name += DUPLICATE_SUFFIX;
      else name = parent.name === '' ? DUPLICATE_SUFFIX : parent.name + '_' + DUPLICATE_SUFFIX;
    }
    if (name === '' || !b.hints.shouldExtract(name) || b.hints.extracted(name)) return null;
    b.setParsed(name, scalarValue(this.line, v));
    return b.hints.shouldContinueParsingLine(name, b) ? null : NO_MATCH;
  }
}

/** Reads a json param path (`a.b[0]["c d"]`) into the keys jsonparser walks (`[0]` for an index). */
export function parseJsonPath(expr: string): string[] {
  const fail = (why: string): never => {
    throw new BadRequestError('SILT_BAD_QUERY', `cannot parse expression [${expr}]: ${why}`);
  };
  type Tok = { t: 'lsb' | 'rsb' | 'dot' | 'end' } | { t: 'field' | 'string'; v: string } | { t: 'index'; v: number };
  let i = 0;
  const next = (): Tok => {
    while (expr[i] === ' ' || expr[i] === '\t' || expr[i] === '\n') i++;
    if (i >= expr.length) return { t: 'end' };
    const c = expr[i]!;
    if (c >= '0' && c <= '9') {
      const m = /^[0-9]+/.exec(expr.slice(i))![0];
      i += m.length;
      if (expr[i] === '.') fail('cannot use float as array index');
      if (i < expr.length && !/[\s\]]/.test(expr[i]!)) fail(`non-integer value: ${expr[i]}`);
      return { t: 'index', v: Number(m) };
    }
    if (c === '[') return i++, { t: 'lsb' };
    if (c === ']') return i++, { t: 'rsb' };
    if (c === '.') return i++, { t: 'dot' };
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr.slice(i))![0];
      i += m.length;
      return { t: 'field', v: m };
    }
    if (c === '"') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== '"' && expr[j] !== ']') j++;
      const v = expr.slice(i + 1, j);
      i = j + 1;
      return { t: 'string', v };
    }
    return fail(`unexpected char ${c}`);
  };
  const out: string[] = [];
  let tok = next();
  let first = true;
  while (tok.t !== 'end') {
    if (tok.t === 'field' && first) {
      out.push(tok.v);
    } else if (tok.t === 'dot' && !first) {
      const f = next();
      if (f.t !== 'field') fail('syntax error: unexpected token after "."');
      out.push((f as { v: string }).v);
    } else if (tok.t === 'lsb') {
      const inner = next();
      if (inner.t === 'string') out.push(inner.v);
      else if (inner.t === 'index') out.push(`[${inner.v}]`);
      else fail('syntax error: expected a string or an index after "["');
      if (next().t !== 'rsb') fail('syntax error: expected "]"');
    } else {
      fail('syntax error');
    }
    first = false;
    tok = next();
  }
  if (out.length === 0) fail('syntax error: unexpected $end');
  return out;
}

/** `| json a="path", b`: only the given paths. */
export class JsonParamsStage implements Stage {
  private readonly ids: string[];
  private readonly paths: string[][];
  private matches = 0;
  private b!: LabelsBuilder;
  private line = '';
  private readonly each = (index: number, v: JsonValue | null, err: string | null): void => this.found(index, v, err);

  constructor(params: readonly ExtractionParam[]) {
    this.ids = params.map((p) => p.label);
    this.paths = params.map((p) => parseJsonPath(p.path ?? p.label));
  }

  process(_ts: bigint, line: string, b: LabelsBuilder): string | null {
    if (line.length === 0 || b.hints.noLabels()) return line;
    const c = line.charCodeAt(0);
    if (c !== 34 && c !== 123 && c !== 91) {
      b.addParserError(PipelineError.json, null);
      return line;
    }
    this.matches = 0;
    this.b = b;
    this.line = line;
    eachKey(line, 0, line.length, this.paths, this.each);
    if (this.matches < this.ids.length) {
      for (const id of this.ids) if (b.get(id) === undefined) b.setParsed(id, '');
    }
    return line;
  }

  private found(index: number, v: JsonValue | null, err: string | null): void {
    const b = this.b;
    if (err !== null || v === null) {
      b.addParserError(PipelineError.json, err);
      return;
    }
    let key = this.ids[index]!;
    if (b.taken(key)) key += DUPLICATE_SUFFIX;
    const raw = this.line.slice(v.start, v.end);
    if (v.type === JsonType.Null) b.setParsed(key, '');
    else if (v.type === JsonType.Object) b.setParsed(key, raw);
    else b.setParsed(key, jsonStringValue(raw));
    this.matches++;
  }
}
