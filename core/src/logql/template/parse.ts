/**
 * The parser of Go's text/template: the node tree of a template (text, actions, if/else if/else,
 * range with break/continue, with, comments dropped) with Go's parse errors (undefined functions
 * and variables, unexpected tokens). `define`, `template` and `block` are not supported: a LogQL
 * template is a single template.
 */
import { underscoreOK } from '../stages/convert';
import { goUnquote } from './values';
import { lex, type Item } from './lex';

/** A number literal with the readings Go allows it (`1.0` is an int and a float). */
export interface NumberNode {
  type: 'number';
  pos: number;
  text: string;
  isInt: boolean;
  isFloat: boolean;
  int: bigint;
  float: number;
}

/** An operand. */
export type ArgNode =
  | { type: 'field'; pos: number; ident: string[] }
  | { type: 'variable'; pos: number; ident: string[] }
  | { type: 'identifier'; pos: number; ident: string }
  | { type: 'dot'; pos: number }
  | { type: 'nil'; pos: number }
  | { type: 'bool'; pos: number; value: boolean }
  | { type: 'string'; pos: number; text: string; quoted: string }
  | NumberNode
  | { type: 'chain'; pos: number; node: ArgNode; fields: string[] }
  | PipeNode;

/** A command: a function or method call, or a single operand. */
export interface CommandNode {
  pos: number;
  args: ArgNode[];
}

/** A pipeline, with the variables it declares or assigns. */
export interface PipeNode {
  type: 'pipe';
  pos: number;
  decl: string[];
  isAssign: boolean;
  cmds: CommandNode[];
}

/** A node of the template body. */
export type Node =
  | { type: 'text'; pos: number; text: string }
  | { type: 'action'; pos: number; pipe: PipeNode }
  | { type: 'if' | 'with'; pos: number; pipe: PipeNode; list: Node[]; elseList: Node[] | null }
  | { type: 'range'; pos: number; pipe: PipeNode; list: Node[]; elseList: Node[] | null }
  | { type: 'break' | 'continue'; pos: number };

/** A template parse error; `pos` is where it was found. */
export class TemplateParseError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

/** Go's String() of an operand, as error messages quote it. */
export function argString(n: ArgNode): string {
  switch (n.type) {
    case 'field':
      return '.' + n.ident.join('.');
    case 'variable':
      return n.ident.join('.');
    case 'identifier':
      return n.ident;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'string':
      return n.quoted;
    case 'number':
      return n.text;
    case 'chain': {
      const inner = n.node.type === 'pipe' ? `(${argString(n.node)})` : argString(n.node);
      return inner + '.' + n.fields.join('.');
    }
    case 'pipe':
      return pipeString(n);
  }
}

/** Go's String() of a command. */
export function commandString(c: CommandNode): string {
  return c.args.map((a) => (a.type === 'pipe' ? `(${argString(a)})` : argString(a))).join(' ');
}

function pipeString(p: PipeNode): string {
  const decl = p.decl.length > 0 ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
  return decl + p.cmds.map(commandString).join(' | ');
}

/** Parses a Go integer or float literal (and character constants) as text/template reads numbers. */
function parseNumber(text: string, pos: number): NumberNode {
  const n: NumberNode = { type: 'number', pos, text, isInt: false, isFloat: false, int: 0n, float: 0 };
  if (text.startsWith("'")) {
    const s = goUnquote(text);
    const cp = s === null ? undefined : s.codePointAt(0);
    if (cp === undefined || s!.length !== String.fromCodePoint(cp).length) throw new TemplateParseError(`malformed character constant: ${text}`, pos);
    n.isInt = n.isFloat = true;
    n.int = BigInt(cp);
    n.float = cp;
    return n;
  }
  if (text.endsWith('i')) throw new TemplateParseError(`complex numbers are not supported: ${text}`, pos);
  const intVal = parseGoInt(text);
  if (intVal !== null) {
    if (intVal >= -(2n ** 63n) && intVal < 2n ** 63n) {
      n.isInt = true;
      n.int = intVal;
    }
    n.isFloat = true;
    n.float = Number(intVal);
    if (!n.isInt && intVal >= 2n ** 64n) throw new TemplateParseError(`integer overflow: ${JSON.stringify(text)}`, pos);
    return n;
  }
  const clean = text.replace(/_/g, '');
  const f = /^[+-]?0[xX]/.test(clean) ? NaN : Number(clean);
  if (!Number.isNaN(f) && /[.eEpP]/.test(text)) {
    n.isFloat = true;
    n.float = f;
    if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
      n.isInt = true;
      n.int = BigInt(f);
    }
    return n;
  }
  throw new TemplateParseError(`illegal number syntax: ${JSON.stringify(text)}`, pos);
}

/** strconv.ParseInt(text, 0, 64) without the range check: base prefixes, a leading 0 for octal, underscores. */
function parseGoInt(text: string): bigint | null {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(text);
  if (m === null || (text.includes('_') && !underscoreOK(text))) return null;
  let body = m[2]!.replace(/_/g, '');
  if (/^0[0-7]+$/.test(body)) body = '0o' + body.slice(1);
  const v = BigInt(body);
  return m[1] === '-' ? -v : v;
}

class Parser {
  private i = 0;
  private readonly vars: string[][] = [['$']];
  private rangeDepth = 0;

  constructor(
    private readonly items: Item[],
    private readonly isFunction: (name: string) => boolean,
  ) {}

  private peek(): Item {
    let k = this.i;
    while (this.items[k]!.type === 'space') k++;
    return this.items[k]!;
  }

  private next(): Item {
    while (this.items[this.i]!.type === 'space') this.i++;
    return this.items[this.i++]!;
  }

  private fail(msg: string, at: Item): never {
    throw new TemplateParseError(msg, at.pos);
  }

  private unexpected(item: Item, context: string): never {
    if (item.type === 'error') this.fail(item.val, item);
    const shown = item.type === 'eof' ? 'EOF' : `${JSON.stringify(item.val)}`;
    this.fail(`unexpected ${shown} in ${context}`, item);
  }

  /** Parses up to EOF or one of `stop` keywords (returned). */
  list(stop: readonly string[]): { nodes: Node[]; end: Item } {
    const nodes: Node[] = [];
    while (true) {
      const item = this.items[this.i]!;
      if (item.type === 'eof') {
        if (stop.length > 0) this.fail('unexpected EOF', item);
        return { nodes, end: item };
      }
      if (item.type === 'error') this.fail(item.val, item);
      if (item.type === 'text') {
        this.i++;
        nodes.push({ type: 'text', pos: item.pos, text: item.val });
        continue;
      }
      // leftDelim
      this.i++;
      const k = this.peek();
      if (k.type === 'keyword' && (k.val === 'end' || k.val === 'else')) {
        if (!stop.includes(k.val)) this.fail(`unexpected {{${k.val}}}`, k);
        return { nodes, end: k };
      }
      nodes.push(this.action());
    }
  }

  private action(): Node {
    const k = this.peek();
    if (k.type === 'keyword') {
      this.next();
      switch (k.val) {
        case 'if':
        case 'with':
          return this.branch(k.val, k);
        case 'range':
          return this.branch('range', k);
        case 'break':
        case 'continue':
          if (this.rangeDepth === 0) this.fail(`{{${k.val}}} outside {{range}}`, k);
          this.expectRightDelim(k.val);
          return { type: k.val, pos: k.pos };
        default:
          this.fail(`{{${k.val}}} is not supported in LogQL templates`, k);
      }
    }
    const pipe = this.pipeline('command', 'rightDelim');
    return { type: 'action', pos: pipe.pos, pipe };
  }

  private expectRightDelim(context: string): void {
    const t = this.next();
    if (t.type !== 'rightDelim') this.unexpected(t, context);
  }

  private branch(kind: 'if' | 'with' | 'range', at: Item): Node {
    this.vars.push([]);
    const pipe = this.pipeline(kind, 'rightDelim');
    if (kind === 'range') this.rangeDepth++;
    const body = this.list(['end', 'else']);
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | null = null;
    this.next(); // the `end` or `else` keyword
    if (body.end.val === 'else') {
      const after = this.peek();
      if ((kind === 'if' || kind === 'with') && after.type === 'keyword' && after.val === kind) {
        // {{else if …}}: an if nested in the else branch, sharing the {{end}}.
        this.next();
        elseList = [this.branch(kind, after)];
        this.vars.pop();
        return { type: kind, pos: at.pos, pipe, list: body.nodes, elseList };
      }
      this.expectRightDelim('else');
      const rest = this.list(['end']);
      this.next();
      elseList = rest.nodes;
    }
    this.expectRightDelim('end');
    this.vars.pop();
    return { type: kind, pos: at.pos, pipe, list: body.nodes, elseList };
  }

  private declared(name: string): boolean {
    for (const scope of this.vars) if (scope.includes(name)) return true;
    return false;
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const start = this.peek();
    const pipe: PipeNode = { type: 'pipe', pos: start.pos, decl: [], isAssign: false, cmds: [] };
    // Declarations: $x := …, $x = …, and in range $i, $e := ….
    if (start.type === 'variable') {
      const save = this.i;
      this.next();
      const t = this.peek();
      if (t.type === 'declare' || t.type === 'assign') {
        this.next();
        pipe.isAssign = t.type === 'assign';
        pipe.decl.push(start.val);
        if (pipe.isAssign && !this.declared(start.val)) this.fail(`undefined variable ${JSON.stringify(start.val)}`, start);
      } else if (t.type === 'char' && t.val === ',' && context === 'range') {
        this.next();
        const second = this.next();
        const d = this.next();
        if (second.type !== 'variable' || (d.type !== 'declare' && d.type !== 'assign')) this.fail('range can only initialize variables', second);
        pipe.decl.push(start.val, second.val);
        pipe.isAssign = d.type === 'assign';
      } else {
        this.i = save;
      }
      if (!pipe.isAssign) for (const v of pipe.decl) this.vars[this.vars.length - 1]!.push(v);
    }
    while (true) {
      const t = this.peek();
      if (t.type === end) {
        this.next();
        if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, t);
        for (let k = 1; k < pipe.cmds.length; k++) {
          const first = pipe.cmds[k]!.args[0]!;
          if (first.type === 'bool' || first.type === 'dot' || first.type === 'nil' || first.type === 'number' || first.type === 'string') {
            this.fail(`non executable command in pipeline stage ${k + 1}`, t);
          }
        }
        return pipe;
      }
      pipe.cmds.push(this.command(end, context));
    }
  }

  private command(end: 'rightDelim' | 'rightParen', context: string): CommandNode {
    const cmd: CommandNode = { pos: this.peek().pos, args: [] };
    while (true) {
      const t = this.peek();
      if (t.type === end) break;
      if (t.type === 'pipe') {
        this.next();
        break;
      }
      const op = this.operand();
      if (op === null) this.unexpected(t, context === 'command' ? 'operand' : context);
      cmd.args.push(op);
      const after = this.items[this.i]!;
      if (after.type !== 'space' && after.type !== end && after.type !== 'pipe' && after.type !== 'rightParen') this.unexpected(after, 'operand');
    }
    if (cmd.args.length === 0) this.fail('empty command', this.peek());
    return cmd;
  }

  private operand(): ArgNode | null {
    const node = this.term();
    if (node === null) return null;
    if (this.items[this.i]!.type !== 'field') return node;
    const fields: string[] = [];
    while (this.items[this.i]!.type === 'field') fields.push(this.items[this.i++]!.val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.fail(`unexpected . after term ${JSON.stringify(argString(node))}`, this.items[this.i - 1]!);
        break;
      default:
        return { type: 'chain', pos: node.pos, node, fields };
    }
  }

  private term(): ArgNode | null {
    const t = this.peek();
    switch (t.type) {
      case 'identifier':
        this.next();
        if (!this.isFunction(t.val)) this.fail(`function ${JSON.stringify(t.val)} not defined`, t);
        return { type: 'identifier', pos: t.pos, ident: t.val };
      case 'dot':
        this.next();
        return { type: 'dot', pos: t.pos };
      case 'nil':
        this.next();
        return { type: 'nil', pos: t.pos };
      case 'variable':
        this.next();
        if (!this.declared(t.val)) this.fail(`undefined variable ${JSON.stringify(t.val)}`, t);
        return { type: 'variable', pos: t.pos, ident: [t.val] };
      case 'field':
        this.next();
        return { type: 'field', pos: t.pos, ident: [t.val.slice(1)] };
      case 'bool':
        this.next();
        return { type: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'charConstant':
      case 'number':
        this.next();
        return parseNumber(t.val, t.pos);
      case 'string':
      case 'rawString': {
        this.next();
        const text = t.type === 'rawString' ? t.val.slice(1, -1).replace(/\r/g, '') : goUnquote(t.val);
        if (text === null) this.fail(`invalid syntax`, t);
        return { type: 'string', pos: t.pos, text, quoted: t.val };
      }
      case 'leftParen': {
        this.next();
        return this.pipeline('parenthesized pipeline', 'rightParen');
      }
      default:
        return null;
    }
  }
}

/** Parses a template; `isFunction` says which identifiers are functions. Throws TemplateParseError. */
export function parseTemplate(text: string, isFunction: (name: string) => boolean): Node[] {
  const p = new Parser(lex(text), isFunction);
  return p.list([]).nodes;
}
