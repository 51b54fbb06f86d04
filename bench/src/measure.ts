/** What the bench's phases share to measure a load: the CPU of its processes, and its figures. */
import { processCpuSeconds } from './cluster';
import type { LoadResult } from './load-protocol';
import type { CpuUse, LoadFigures } from './results';
import { summarize, wallMs } from './stats';

/** Measures the CPU each named process uses between `start` and `stop`. */
export class CpuMeter {
  private readonly begin = new Map<string, number>();
  private began = 0;

  constructor(private readonly pids: Record<string, number | null>) {}

  start(): this {
    this.began = wallMs();
    for (const [name, pid] of Object.entries(this.pids)) {
      const cpu = pid === null ? null : processCpuSeconds(pid);
      if (cpu !== null) this.begin.set(name, cpu);
    }
    return this;
  }

  stop(): CpuUse {
    const seconds = (wallMs() - this.began) / 1000;
    const use: CpuUse = {};
    for (const [name, before] of this.begin) {
      const after = processCpuSeconds(this.pids[name]!);
      if (after !== null) use[name] = (after - before) / seconds;
    }
    return use;
  }
}

/** A load's figures: entries and bytes per second, ack latencies, errors and CPU. */
export function figures(result: LoadResult, cpu: CpuUse): LoadFigures {
  const seconds = (result.endedAt - result.startedAt) / 1000;
  return {
    entries: result.entries,
    seconds,
    entriesPerS: result.entries / seconds,
    lineMBps: result.lineBytes / 1e6 / seconds,
    ack: summarize(result.latenciesMs),
    errors: result.errors,
    cpu,
  };
}

/** Unmeasured load before a closed-loop phase of `durationS`, so that the JIT and the connections are warm. */
export function warmUpMs(durationS: number): number {
  return Math.min(5000, durationS * 250);
}

