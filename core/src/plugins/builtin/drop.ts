/**
 * The built-in `drop` and `sample` plugins (ingest): `drop` leaves out every entry its `query`
 * selects; `sample` keeps one in `oneIn` of them (the first, then every oneIn-th after, counted
 * across the selected streams of the ingest process).
 */
import type { PushStreamView, SiltPlugin } from '../types';
import { onlyKeys, pipelineCounter, positiveInteger, stringOption, tenantsOption, within, type RawOptions } from './options';
import { compileSelection, type Selection } from './selection';

interface DropOptions {
  applies: (tenant: string) => boolean;
  selection: Selection;
  /** 1 for drop (every selected entry goes), N for sample (one in N stays). */
  oneIn: number;
}

function selectionOptions(raw: RawOptions, oneIn: number): DropOptions {
  const query = stringOption(raw, 'query');
  return { applies: tenantsOption(raw), selection: within('query', () => compileSelection(query)), oneIn };
}

/** Filters each stream's entries through `keep(selected)`, counting those left out. */
function filterStreams(streams: PushStreamView[], selection: Selection, keep: () => boolean, onDropped: (n: number) => void): void {
  for (const s of streams) {
    if (!selection.stream(s.labels)) continue;
    const line = selection.line;
    const before = s.entries.length;
    s.entries = s.entries.filter((e) => (line !== null && !line(e.line)) || keep());
    if (s.entries.length < before) onDropped(before - s.entries.length);
  }
}

/** `drop`: options `tenants` (default all) and `query`. */
export const dropPlugin: SiltPlugin<DropOptions> = {
  name: 'drop',
  services: ['ingest'],
  options: (raw) => {
    onlyKeys(raw, ['tenants', 'query']);
    return selectionOptions(raw, 1);
  },
  create: (o, ctx) => {
    const counted = pipelineCounter(ctx.registry).labels({ rule: ctx.id, action: 'dropped' });
    return {
      appliesTo: o.applies,
      onPush: (_tenant, streams) => filterStreams(streams, o.selection, () => false, (n) => counted.inc(n)),
    };
  },
};

/** `sample`: options `tenants` (default all), `query` and `oneIn`. */
export const samplePlugin: SiltPlugin<DropOptions> = {
  name: 'sample',
  services: ['ingest'],
  options: (raw) => {
    onlyKeys(raw, ['tenants', 'query', 'oneIn']);
    return selectionOptions(raw, positiveInteger(raw, 'oneIn'));
  },
  create: (o, ctx) => {
    const counted = pipelineCounter(ctx.registry).labels({ rule: ctx.id, action: 'sampled_out' });
    let seen = 0;
    const keep = (): boolean => seen++ % o.oneIn === 0;
    return {
      appliesTo: o.applies,
      onPush: (_tenant, streams) => filterStreams(streams, o.selection, keep, (n) => counted.inc(n)),
    };
  },
};
