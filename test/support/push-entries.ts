/** A parsed push stream's entries as objects, whichever way the protocol gave them (objects, or payload runs written from the wire's bytes). */
import { runEntries } from '../../core/src/payload-run';
import type { PushEntry, PushStream } from '../../ingest/src/push/builder';

/** Every entry of `stream`, in push order. */
export function entriesOf(stream: PushStream): PushEntry[] {
  return stream.runs === undefined ? stream.entries : stream.runs.flatMap(runEntries);
}
