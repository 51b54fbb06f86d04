/**
 * The executor of Go's text/template over a parsed tree: pipelines, field and map access with
 * `missingkey=zero`, variables, function calls with Go's argument checks and conversions, if/with/
 * range (with break and continue), and Go's execution errors
 * (`template: line:1:3: executing "line" at <.a.b>: can't evaluate field b in type string`).
 */
import type { FuncEnv, GoFunc, ParamType } from './builtins';
import { GoTime, TIME_NAMES } from './go-time';
import { argString, commandString, type ArgNode, type CommandNode, type Node, type NumberNode, type PipeNode } from './parse';
import { formatValue, GoCallError, GoInt, GoMap, truth, typeName, type GoValue } from './values';

/** An execution error, with Go's message. */
export class TemplateExecError extends Error {}

const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');
/** No value from a previous pipeline command. */
const MISSING = Symbol('missing');

type Final = GoValue | typeof MISSING;

/** What errors point at: an operand or a command (an action or range pipeline is shown inside {{…}}). */
type AtNode = ArgNode | CommandNode;

/** What an executing template needs besides the tree. */
export interface TemplateSource {
  name: string;
  text: string;
  funcs: Record<string, GoFunc>;
}

const TIME_METHODS: Record<string, (t: GoTime, args: GoValue[]) => GoValue> = {
  Unix: (t) => GoInt.int64(t.unix()),
  UnixMilli: (t) => GoInt.int64(t.ns / 1_000_000n - (t.ns < 0n && t.ns % 1_000_000n !== 0n ? 1n : 0n)),
  UnixMicro: (t) => GoInt.int64(t.ns / 1000n - (t.ns < 0n && t.ns % 1000n !== 0n ? 1n : 0n)),
  UnixNano: (t) => GoInt.int64(t.ns),
  Year: (t) => GoInt.int(t.civil().year),
  Month: (t) => TIME_NAMES.months[t.civil().month - 1]!,
  Day: (t) => GoInt.int(t.civil().day),
  Weekday: (t) => TIME_NAMES.days[t.civil().weekday]!,
  YearDay: (t) => GoInt.int(t.civil().yday),
  Hour: (t) => GoInt.int(t.civil().hour),
  Minute: (t) => GoInt.int(t.civil().minute),
  Second: (t) => GoInt.int(t.civil().second),
  Nanosecond: (t) => GoInt.int(t.civil().nsec),
  IsZero: (t) => t.ns === GoTime.zero().ns,
  String: (t) => t.toString(),
  Format: (t, args) => t.format(args[0] as string),
};

/** Executes a template with `data` as dot; throws TemplateExecError. */
export function execute(src: TemplateSource, nodes: readonly Node[], data: GoValue, env: FuncEnv): string {
  return new Exec(src, env, data).run(nodes);
}

class Exec {
  private out = '';
  private readonly vars: { name: string; value: GoValue }[];
  private atNode: AtNode | null = null;
  /** 0: the node as it is; 1: an action's pipeline, shown as {{…}}; 2: a range's, shown as {{range …}}. */
  private atWrap = 0;

  constructor(
    private readonly src: TemplateSource,
    private readonly env: FuncEnv,
    private readonly data: GoValue,
  ) {
    this.vars = [{ name: '$', value: data }];
  }

  run(nodes: readonly Node[]): string {
    this.walkList(this.data, nodes);
    return this.out;
  }

  private setAt(node: AtNode, wrap = 0): void {
    this.atNode = node;
    this.atWrap = wrap;
  }

  private atArg(n: ArgNode): void {
    this.atNode = n;
    this.atWrap = 0;
  }

  private atText(): string {
    const n = this.atNode!;
    const text = 'args' in n ? commandString(n) : argString(n);
    return this.atWrap === 1 ? `{{${text}}}` : this.atWrap === 2 ? `{{range ${text}}}` : text;
  }

  private errorf(msg: string): never {
    const name = this.src.name;
    if (this.atNode === null) throw new TemplateExecError(`template: ${name}: ${msg}`);
    const before = this.src.text.slice(0, this.atNode.pos);
    const nl = before.lastIndexOf('\n');
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = Buffer.byteLength(nl < 0 ? before : before.slice(nl + 1));
    throw new TemplateExecError(`template: ${name}:${line}:${col}: executing ${JSON.stringify(name)} at <${this.atText()}>: ${msg}`);
  }

  private walkList(dot: GoValue, nodes: readonly Node[]): void {
    for (const n of nodes) this.walk(dot, n);
  }

  private walk(dot: GoValue, node: Node): void {
    switch (node.type) {
      case 'text':
        this.out += node.text;
        return;
      case 'action': {
        this.setAt(node.pipe, 1);
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.out += formatValue(v);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, node.pipe);
        if (truth(v)) this.walkList(node.type === 'with' ? v : dot, node.list);
        else if (node.elseList !== null) this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
    }
  }

  private walkRange(dot: GoValue, node: Extract<Node, { type: 'range' }>): void {
    this.setAt(node.pipe, 2);
    const outer = this.vars.length;
    const val = this.evalPipeline(dot, node.pipe);
    const mark = this.vars.length;
    const decl = node.pipe.decl.length;
    const names = node.pipe.decl;
    const one = (index: GoValue, elem: GoValue): boolean => {
      if (node.pipe.isAssign) {
        if (decl === 1) this.setVar(names[0]!, elem);
        if (decl === 2) {
          this.setVar(names[0]!, index);
          this.setVar(names[1]!, elem);
        }
      } else {
        if (decl > 0) this.vars[this.vars.length - 1]!.value = elem;
        if (decl > 1) this.vars[this.vars.length - 2]!.value = index;
      }
      try {
        this.walkList(elem, node.list);
      } catch (e) {
        if (e === BREAK) return false;
        if (e !== CONTINUE) throw e;
      } finally {
        this.vars.length = mark;
      }
      return true;
    };
    let iterated = false;
    if (Array.isArray(val)) {
      iterated = val.length > 0;
      for (let i = 0; i < val.length; i++) if (!one(GoInt.int(i), val[i])) break;
    } else if (val instanceof GoMap) {
      iterated = val.entries.size > 0;
      for (const k of val.sortedKeys()) if (!one(k, val.entries.get(k))) break;
    } else if (val instanceof GoInt) {
      if (decl > 1) this.errorf(`can't use ${val.v} to iterate over more than one variable`);
      iterated = val.v > 0n;
      for (let i = 0n; i < val.v; i++) if (!one(GoInt.int(i), GoInt.int(i))) break;
    } else if (val !== undefined && val !== null) {
      this.errorf(`range can't iterate over ${formatValue(val, true)}`);
    }
    if (!iterated && node.elseList !== null) this.walkList(dot, node.elseList);
    this.vars.length = outer;
  }

  private evalPipeline(dot: GoValue, pipe: PipeNode): GoValue {
    this.setAt(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // A nil interface is dug out to no value, as Go's reflect.ValueOf(nil).
      if (value === null) value = undefined;
    }
    const v = value === MISSING ? undefined : value;
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, v);
      else this.vars.push({ name, value: v });
    }
    return v;
  }

  private setVar(name: string, value: GoValue): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private varValue(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return this.errorf(`undefined variable: ${name}`);
  }

  private notAFunction(args: readonly ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  private evalCommand(dot: GoValue, cmd: CommandNode, final: Final): GoValue {
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        this.atArg(first);
        return this.evalFieldChain(dot, dot, first, first.ident, cmd.args, final);
      case 'chain':
        return this.evalChain(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first.ident, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariable(dot, first, cmd.args, final);
      default:
        break;
    }
    this.atArg(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
  }

  private idealConstant(n: NumberNode): GoValue {
    this.atArg(n);
    if (n.isFloat && !/^[+-]?0[xX]/.test(n.text) && !n.text.startsWith("'") && /[.eEpP]/.test(n.text)) return n.float;
    if (n.isInt) return GoInt.int(n.int);
    return this.errorf(`${n.text} overflows int`);
  }

  private evalChain(dot: GoValue, chain: Extract<ArgNode, { type: 'chain' }>, args: readonly ArgNode[], final: Final): GoValue {
    this.atArg(chain);
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${argString(chain)}`);
    const receiver = this.evalArg(dot, null, chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.fields, args, final);
  }

  private evalVariable(dot: GoValue, v: Extract<ArgNode, { type: 'variable' }>, args: readonly ArgNode[] | null, final: Final): GoValue {
    this.atArg(v);
    const value = this.varValue(v.ident[0]!);
    if (v.ident.length === 1) {
      if (args !== null) this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  private evalFieldChain(dot: GoValue, receiver: GoValue, node: ArgNode, ident: readonly string[], args: readonly ArgNode[] | null, final: Final): GoValue {
    for (let i = 0; i < ident.length - 1; i++) receiver = this.evalField(dot, ident[i]!, node, null, MISSING, receiver);
    return this.evalField(dot, ident[ident.length - 1]!, node, args, final, receiver);
  }

  private evalField(dot: GoValue, name: string, node: ArgNode, args: readonly ArgNode[] | null, final: Final, receiver: GoValue): GoValue {
    if (receiver === undefined) return undefined;
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    if (receiver instanceof GoTime) {
      const method = TIME_METHODS[name];
      if (method !== undefined) {
        const fn: GoFunc = { params: name === 'Format' ? ['string'] : [], call: (a) => method(receiver, a) };
        return this.evalCall(dot, fn, name, node, args, final);
      }
    }
    const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
    if (receiver instanceof GoMap) {
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      const v = receiver.entries.get(name);
      if (v !== undefined) return v;
      return receiver.elem === 'string' ? '' : null;
    }
    return this.errorf(`can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private evalFunction(dot: GoValue, name: string, ident: ArgNode, cmd: CommandNode | null, args: readonly ArgNode[] | null, final: Final): GoValue {
    this.atArg(ident);
    const fn = this.src.funcs[name];
    if (fn === undefined) this.errorf(`${JSON.stringify(name)} is not a defined function`);
    return this.evalCall(dot, fn, name, cmd ?? ident, args, final);
  }

  private evalCall(dot: GoValue, fn: GoFunc, name: string, at: AtNode, allArgs: readonly ArgNode[] | null, final: Final): GoValue {
    const args = allArgs === null ? [] : allArgs.slice(1);
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    const numFixed = fn.variadic !== undefined ? fn.params.length : args.length;
    if (fn.variadic !== undefined) {
      if (numIn < numFixed) this.errorf(`wrong number of args for ${name}: want at least ${fn.params.length} got ${args.length}`);
    } else if (numIn !== fn.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }
    if (fn.lazy !== undefined) {
      let v: GoValue = undefined;
      for (const a of args) {
        v = this.evalArg(dot, 'value', a);
        if (truth(v) === (fn.lazy === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv: GoValue[] = [];
    let i = 0;
    for (; i < numFixed && i < args.length; i++) argv.push(this.evalArg(dot, fn.params[i]!, args[i]!));
    if (fn.variadic !== undefined) for (; i < args.length; i++) argv.push(this.evalArg(dot, fn.variadic, args[i]!));
    if (final !== MISSING) {
      let t: ParamType = fn.params[fn.params.length - 1]!;
      if (fn.variadic !== undefined) t = numIn - 1 < numFixed ? fn.params[numIn - 1]! : fn.variadic;
      argv.push(this.validateType(final, t));
    }
    try {
      return fn.call(argv, this.env);
    } catch (err) {
      if (!(err instanceof GoCallError)) throw err;
      this.setAt(at);
      return this.errorf(`error calling ${name}: ${err.message}`);
    }
  }

  private validateType(value: GoValue, t: ParamType | null): GoValue {
    if (t === null || t === 'value') return value;
    if (value === undefined) {
      if (t === 'any') return null;
      return this.errorf(`invalid value; expected ${goType(t)}`);
    }
    if (t === 'any') return value;
    const ok =
      (t === 'string' && typeof value === 'string') ||
      (t === 'float64' && typeof value === 'number') ||
      (t === 'bool' && typeof value === 'boolean') ||
      (t === 'int' && value instanceof GoInt && value.type === 'int') ||
      (t === 'time' && value instanceof GoTime);
    if (!ok) this.errorf(`wrong type for value; expected ${goType(t)}; got ${typeName(value)}`);
    return value;
  }

  private evalArg(dot: GoValue, t: ParamType | null, n: ArgNode): GoValue {
    this.atArg(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, t);
      case 'nil':
        if (t === 'any' || t === 'value') return t === 'any' ? null : undefined;
        return this.errorf(`cannot assign nil to ${goType(t)}`);
      case 'field':
        return this.validateType(this.evalFieldChain(dot, dot, n, n.ident, [n], MISSING), t);
      case 'variable':
        return this.validateType(this.evalVariable(dot, n, null, MISSING), t);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), t);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n.ident, n, null, null, MISSING), t);
      case 'chain':
        return this.validateType(this.evalChain(dot, n, [], MISSING), t);
      default:
        break;
    }
    switch (t) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        return this.errorf(`expected bool; found ${argString(n)}`);
      case 'float64':
        if (n.type === 'number' && n.isFloat) return n.float;
        return this.errorf(`expected float; found ${argString(n)}`);
      case 'int':
        if (n.type === 'number' && n.isInt) return GoInt.int(n.int);
        return this.errorf(`expected integer; found ${argString(n)}`);
      case 'string':
        if (n.type === 'string') return n.text;
        return this.errorf(`expected string; found ${argString(n)}`);
      case 'time':
        return this.errorf(`can't handle ${argString(n)} for arg of type time.Time`);
      default:
        switch (n.type) {
          case 'bool':
            return n.value;
          case 'number':
            return this.idealConstant(n);
          case 'string':
            return n.text;
        }
    }
  }
}

function goType(t: ParamType | null): string {
  switch (t) {
    case 'time':
      return 'time.Time';
    case 'any':
      return 'interface {}';
    case 'value':
      return 'reflect.Value';
    case null:
      return 'interface {}';
    default:
      return t;
  }
}
