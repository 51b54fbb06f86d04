/** `| decolorize`: removes ANSI escape sequences (colours, cursor moves) from the line, with Loki's pattern. */
import type { Stage } from './stage';

const ANSI_RE =
  // eslint-disable-next-line no-control-regex -- ANSI sequences start with control characters
  /[\u001B\u009B][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))/g;

/** `| decolorize`. */
export const decolorizeStage: Stage = {
  process: (_ts, line) => (line.includes('\u001b') || line.includes('\u009b') ? line.replace(ANSI_RE, '') : line),
};
