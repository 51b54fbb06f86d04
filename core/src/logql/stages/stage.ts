/** The contract of a compiled pipeline stage. */
import type { LabelsBuilder } from './labels-builder';

/** One compiled stage: returns the (possibly new) line, or null when the entry is filtered out. */
export interface Stage {
  process(ts: bigint, line: string, b: LabelsBuilder): string | null;
}
