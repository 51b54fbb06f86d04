/**
 * `| unpack`, for lines packed by Promtail's pack stage: a JSON object whose string fields become
 * labels and whose `_entry` becomes the line. As in Loki, the labels are set only when the object
 * has an `_entry`; other value types are ignored; a line that is not an object is a JSONParserErr.
 */
import { JsonError, jsonStringValue, objectEach, JsonType, unescapeJson, type EachResult, type JsonValue } from './json-scan';
import { DUPLICATE_SUFFIX, PipelineError, sanitizeLabelKey, type LabelsBuilder } from './labels-builder';
import type { Stage } from './stage';

/** The JSON key holding the packed line. */
const PACKED_ENTRY_KEY = '_entry';

/** The error Loki reports for a line that does not start with `{` (jsoniter's ObjectValue is 6). */
const NOT_AN_OBJECT = 'expecting json object(6), but it is not';

/** `| unpack`. */
export class UnpackStage implements Stage {
  private readonly pairs: string[] = [];
  private entry: string | null = null;
  private b!: LabelsBuilder;
  private line = '';
  private readonly each = (key: string, v: JsonValue): EachResult => this.field(key, v);

  process(_ts: bigint, line: string, b: LabelsBuilder): string | null {
    if (line.length === 0 || b.hints.noLabels()) return line;
    if (line.charCodeAt(0) !== 123) {
      b.addParserError(PipelineError.json, NOT_AN_OBJECT);
      return line;
    }
    this.pairs.length = 0;
    this.entry = null;
    this.b = b;
    this.line = line;
    const r = objectEach(line, 0, line.length, this.each);
    if (r !== null) {
      b.addParserError(PipelineError.json, r as string);
      return line;
    }
    if (this.entry === null) return line;
    const pairs = this.pairs;
    for (let i = 0; i < pairs.length; i += 2) {
      b.setParsed(pairs[i]!, pairs[i + 1]!);
      if (!b.hints.shouldContinueParsingLine(pairs[i]!, b)) return null;
    }
    return this.entry;
  }

  private field(key: string, v: JsonValue): EachResult {
    if (v.type !== JsonType.String) return null;
    const raw = this.line.slice(v.start, v.end);
    if (key === PACKED_ENTRY_KEY) {
      const u = unescapeJson(raw);
      if (u === null) return JsonError.malformedStringEscape;
      this.entry = u;
      return null;
    }
    const b = this.b;
    const k = b.taken(key) ? key + DUPLICATE_SUFFIX : key;
    if (!b.hints.shouldExtract(k) || b.hints.extracted(k)) return null;
    const name = sanitizeLabelKey(k);
    if (name !== '') this.pairs.push(name, jsonStringValue(raw));
    return null;
  }
}
