/**
 * Go text/template as LogQL's `line_format` and `label_format` run it: parsed once with Loki's
 * functions, executed per entry with the entry's labels as a map[string]string (a missing label
 * reads as ""), `__line__` and `__timestamp__`.
 */
import { BadRequestError } from '../../errors';
import type { FuncEnv } from './builtins';
import { execute, TemplateExecError, type TemplateSource } from './exec';
import { FUNCTIONS } from './functions';
import { parseTemplate, TemplateParseError, type ArgNode, type Node, type PipeNode } from './parse';
import type { GoMap } from './values';

export { TemplateExecError } from './exec';
export type { FuncEnv } from './builtins';

function pipeFields(p: PipeNode, out: string[]): void {
  for (const c of p.cmds) for (const a of c.args) argFields(a, out);
}

function argFields(a: ArgNode, out: string[]): void {
  if (a.type === 'field') out.push(...a.ident);
  else if (a.type === 'pipe') pipeFields(a, out);
}

function nodeFields(nodes: readonly Node[], out: string[]): void {
  for (const n of nodes) {
    if (n.type === 'action') pipeFields(n.pipe, out);
    else if (n.type === 'if' || n.type === 'with' || n.type === 'range') {
      pipeFields(n.pipe, out);
      nodeFields(n.list, out);
      if (n.elseList !== null) nodeFields(n.elseList, out);
    }
  }
}

/** A compiled template. */
export class Template {
  private readonly nodes: Node[];
  private readonly source: TemplateSource;
  /** The label a template of the form `{{.label}}` reads, which Loki copies without executing; else null. */
  readonly simpleKey: string | null;

  /** Parses `text`; `name` is Go's template name in messages ("line" or "label"); a bad template is a 400 prefixed with `errorPrefix`. */
  constructor(text: string, name: string, errorPrefix: string) {
    try {
      this.nodes = parseTemplate(text, (fn) => Object.prototype.hasOwnProperty.call(FUNCTIONS, fn));
    } catch (err) {
      if (!(err instanceof TemplateParseError)) throw err;
      const line = 1 + (text.slice(0, err.pos).match(/\n/g)?.length ?? 0);
      throw new BadRequestError('SILT_BAD_QUERY', `${errorPrefix}: template: ${name}:${line}: ${err.message}`);
    }
    const first = this.nodes[0];
    let key: string | null = null;
    if (this.nodes.length === 1 && first!.type === 'action' && first.pipe.cmds.length === 1) {
      const args = first.pipe.cmds[0]!.args;
      if (args.length === 1 && args[0]!.type === 'field' && args[0]!.ident.length === 1) key = args[0]!.ident[0]!;
    }
    this.simpleKey = key;
    this.source = { name, text, funcs: FUNCTIONS };
  }

  /** The label names the template reads as fields (Loki's RequiredLabelNames of a template). */
  fields(): string[] {
    const out: string[] = [];
    nodeFields(this.nodes, out);
    return [...new Set(out.filter((f) => f !== ''))];
  }

  /** Executes the template over `labels`; throws TemplateExecError with Go's message. */
  execute(labels: GoMap, env: FuncEnv): string {
    return execute(this.source, this.nodes, labels, env);
  }
}

/** Whether an error is a template execution error (its message is Go's). */
export function isTemplateExecError(err: unknown): err is TemplateExecError {
  return err instanceof TemplateExecError;
}
