/**
 * The lexer of Go's text/template (as `line_format` and `label_format` templates are written):
 * text, `{{ … }}` actions with `{{-`/`-}}` trimming and `/* … *\/` comments, and inside actions
 * fields, variables, identifiers and keywords, strings, raw strings, characters, numbers, `|`,
 * `:=`, `=`, parentheses and punctuation. Positions are UTF-16 offsets into the template.
 */

/** Item kinds. */
export type ItemType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'field'
  | 'variable'
  | 'identifier'
  | 'keyword'
  | 'bool'
  | 'string'
  | 'rawString'
  | 'charConstant'
  | 'number'
  | 'pipe'
  | 'declare'
  | 'assign'
  | 'leftParen'
  | 'rightParen'
  | 'char'
  | 'dot'
  | 'nil'
  | 'eof'
  | 'error';

/** A lexed item. */
export interface Item {
  type: ItemType;
  pos: number;
  val: string;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

function isAlnum(c: string | undefined): boolean {
  return c !== undefined && (c === '_' || /[\p{L}\p{Nd}]/u.test(c));
}

/** Lexes a whole template into items, ending with `eof` or `error`. */
export function lex(input: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let parenDepth = 0;
  const emit = (type: ItemType, start: number, val: string) => items.push({ type, pos: start, val });
  const error = (at: number, msg: string): Item[] => {
    emit('error', at, msg);
    return items;
  };

  while (true) {
    // Text up to the next action.
    const open = input.indexOf('{{', pos);
    const textEnd = open < 0 ? input.length : open;
    let text = input.slice(pos, textEnd);
    let trimLeft = false;
    if (open >= 0 && input[open + 2] === '-' && isSpace(input[open + 3])) {
      trimLeft = true;
      text = text.replace(/[ \t\r\n]+$/, '');
    }
    if (text.length > 0) emit('text', pos, text);
    if (open < 0) {
      emit('eof', input.length, '');
      return items;
    }
    pos = open + 2 + (trimLeft ? 2 : 0);
    // A comment takes the whole action.
    if (input.startsWith('/*', pos)) {
      const end = input.indexOf('*/', pos + 2);
      if (end < 0) return error(open, 'unclosed comment');
      let after = end + 2;
      let trimRight = false;
      if (input[after] === ' ' && input[after + 1] === '-' && input.startsWith('}}', after + 2)) {
        trimRight = true;
        after += 2;
      }
      if (!input.startsWith('}}', after)) return error(open, 'comment ends before closing delimiter');
      pos = after + 2;
      if (trimRight) while (isSpace(input[pos])) pos++;
      continue;
    }
    emit('leftDelim', open, '{{');
    // Inside the action.
    while (true) {
      if (pos >= input.length) return error(pos, 'unclosed action');
      const c = input[pos]!;
      if (isSpace(c)) {
        const start = pos;
        while (isSpace(input[pos])) pos++;
        if (input[pos] === '-' && input.startsWith('}}', pos + 1)) {
          emit('rightDelim', pos, '}}');
          pos += 3;
          while (isSpace(input[pos])) pos++;
          break;
        }
        emit('space', start, input.slice(start, pos));
        continue;
      }
      if (input.startsWith('}}', pos)) {
        if (parenDepth > 0) return error(pos, 'unclosed left paren');
        emit('rightDelim', pos, '}}');
        pos += 2;
        break;
      }
      const start = pos;
      if (c === '=') {
        emit('assign', start, '=');
        pos++;
      } else if (c === ':') {
        if (input[pos + 1] !== '=') return error(pos, 'expected :=');
        emit('declare', start, ':=');
        pos += 2;
      } else if (c === '|') {
        emit('pipe', start, '|');
        pos++;
      } else if (c === '"') {
        let i = pos + 1;
        while (i < input.length && input[i] !== '"') {
          if (input[i] === '\\') i++;
          if (input[i] === '\n' || i >= input.length) return error(pos, 'unterminated quoted string');
          i++;
        }
        if (i >= input.length) return error(pos, 'unterminated quoted string');
        emit('string', start, input.slice(pos, i + 1));
        pos = i + 1;
      } else if (c === '`') {
        const end = input.indexOf('`', pos + 1);
        if (end < 0) return error(pos, 'unterminated raw quoted string');
        emit('rawString', start, input.slice(pos, end + 1));
        pos = end + 1;
      } else if (c === "'") {
        let i = pos + 1;
        while (i < input.length && input[i] !== "'") {
          if (input[i] === '\\') i++;
          if (input[i] === '\n' || i >= input.length) return error(pos, 'unterminated character constant');
          i++;
        }
        if (i >= input.length) return error(pos, 'unterminated character constant');
        emit('charConstant', start, input.slice(pos, i + 1));
        pos = i + 1;
      } else if (c === '$' || (c === '.' && !/[0-9]/.test(input[pos + 1] ?? ''))) {
        let i = pos + 1;
        while (isAlnum(input[i])) i++;
        const word = input.slice(pos, i);
        if (!atTerminator(input, i)) return error(i, `bad character ${describe(input, i)}`);
        emit(c === '$' ? 'variable' : word === '.' ? 'dot' : 'field', start, word);
        pos = i;
      } else if (c === '+' || c === '-' || c === '.' || (c >= '0' && c <= '9')) {
        const m = /^[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[oObB][0-9_]+|[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?)i?/.exec(input.slice(pos))!;
        const word = m[0];
        if (word === '' || word === '+' || word === '-' || isAlnum(input[pos + word.length])) return error(pos, `bad number syntax: "${input.slice(pos, pos + word.length + 1)}"`);
        emit('number', start, word);
        pos += word.length;
      } else if (isAlnum(c)) {
        let i = pos;
        while (isAlnum(input[i])) i++;
        const word = input.slice(pos, i);
        if (!atTerminator(input, i)) return error(i, `bad character ${describe(input, i)}`);
        if (KEYWORDS.has(word)) emit('keyword', start, word);
        else if (word === 'true' || word === 'false') emit('bool', start, word);
        else if (word === 'nil') emit('nil', start, word);
        else emit('identifier', start, word);
        pos = i;
      } else if (c === '(') {
        parenDepth++;
        emit('leftParen', start, c);
        pos++;
      } else if (c === ')') {
        parenDepth--;
        if (parenDepth < 0) return error(pos, 'unexpected right paren');
        emit('rightParen', start, c);
        pos++;
      } else if (c.charCodeAt(0) < 0x80 && c >= ' ') {
        emit('char', start, c);
        pos++;
      } else {
        return error(pos, `unrecognized character in action: ${describe(input, pos)}`);
      }
    }
  }
}

function atTerminator(input: string, i: number): boolean {
  const c = input[i];
  if (c === undefined || isSpace(c)) return true;
  if ('.,|:)('.includes(c)) return true;
  return input.startsWith('}}', i);
}

/** A character as Go's %#U shows it (`U+0021 '!'`). */
function describe(input: string, i: number): string {
  const cp = input.codePointAt(i) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(cp)}'`;
}
