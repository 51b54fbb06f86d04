/** Charts on uPlot: the histogram of entry counts (drag over it to zoom into that range) and metric series with a legend. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricSeries } from '../../../client/src';
import { labelsText } from './format';

/** The theme's muted colour: uPlot draws on a canvas, which cannot read CSS variables. */
function muted(): string {
  return getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#6b7785';
}

const COLOURS = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16'];

/** The series' points on one time axis (seconds), gaps as null. */
function aligned(series: readonly MetricSeries[]): uPlot.AlignedData {
  const times = [...new Set(series.flatMap((s) => s.points.map(([t]) => Number(t / 1_000_000n) / 1000)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const col: (number | null)[] = new Array<number | null>(times.length).fill(null);
    for (const [t, v] of s.points) col[index.get(Number(t / 1_000_000n) / 1000)!] = v;
    return col;
  });
  return [times, ...columns] as uPlot.AlignedData;
}

function useChart(make: (el: HTMLDivElement, width: number) => uPlot, deps: unknown[]) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const chart = make(el, el.clientWidth || 800);
    const resize = new ResizeObserver(() => chart.setSize({ width: el.clientWidth || 800, height: chart.height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, deps);
  return box;
}

/** Entry counts over the range as bars; a drag selects a range to zoom into (`onZoom` gets ns). */
export function Histogram({ series, onZoom }: { series: MetricSeries[]; onZoom(fromNs: bigint, toNs: bigint): void }) {
  const box = useChart(
    (el, width) =>
      new uPlot(
        {
          width,
          height: 120,
          cursor: { drag: { x: true, y: false, setScale: false } },
          legend: { show: false },
          scales: { x: { time: true } },
          axes: [{ stroke: muted(), grid: { show: false } }, { stroke: muted(), size: 50 }],
          series: [{}, { label: 'entries', fill: 'rgba(59,130,246,0.5)', stroke: '#3b82f6', paths: uPlot.paths.bars!({ size: [0.9, 40] }), points: { show: false } }],
          hooks: {
            setSelect: [
              (u) => {
                if (u.select.width < 3) return;
                const from = u.posToVal(u.select.left, 'x');
                const to = u.posToVal(u.select.left + u.select.width, 'x');
                u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
                onZoom(BigInt(Math.floor(from * 1000)) * 1_000_000n, BigInt(Math.ceil(to * 1000)) * 1_000_000n);
              },
            ],
          },
        },
        aligned(series.length > 0 ? series : [{ labels: {}, points: [] }]),
        el,
      ),
    [series],
  );
  return <div class="histogram" ref={box} data-testid="histogram" data-total={series.reduce((n, s) => n + s.points.reduce((k, [, v]) => k + v, 0), 0)} />;
}

/** Metric series as lines, each in the legend by its labels. */
export function TimeSeries({ series }: { series: MetricSeries[] }) {
  const box = useChart(
    (el, width) =>
      new uPlot(
        {
          width,
          height: 300,
          scales: { x: { time: true } },
          axes: [{ stroke: muted() }, { stroke: muted(), size: 60 }],
          series: [{}, ...series.map((s, i) => ({ label: labelsText(s.labels), stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: false }))],
        },
        aligned(series),
        el,
      ),
    [series],
  );
  return <div class="timeseries" ref={box} data-testid="timeseries" />;
}
