/** Progress of a push: a bar redrawn in place on a terminal (entries, bytes, entries/s, ETA of files), one summary line otherwise. */

/** Where progress goes. */
export interface ProgressOut {
  write(text: string): void;
  isTTY: boolean;
}

const REDRAW_MS = 200;
const WIDTH = 24;

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Tracks entries and bytes pushed against the bytes to read (0 when unknown, e.g. stdin). */
export class Progress {
  private readonly started = performance.now();
  private last = 0;
  entries = 0;
  bytesRead = 0;

  constructor(
    private readonly out: ProgressOut,
    private readonly totalBytes: number,
  ) {}

  /** Notes progress; redraws the bar at most every 200 ms on a terminal. */
  update(entries: number, bytesRead: number): void {
    this.entries = entries;
    this.bytesRead = bytesRead;
    const now = performance.now();
    if (!this.out.isTTY || now - this.last < REDRAW_MS) return;
    this.last = now;
    this.out.write(`\r\x1b[K${this.line(now)}`);
  }

  /** The last state: the bar's final form on a terminal, the summary line otherwise. */
  done(): void {
    const now = performance.now();
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(this.entries / seconds) : this.entries;
    if (this.out.isTTY) this.out.write(`\r\x1b[K${this.line(now)}\n`);
    else this.out.write(`pushed ${this.entries} entries (${bytesText(this.bytesRead)}) in ${seconds.toFixed(1)} s, ${rate} entries/s\n`);
  }

  private line(now: number): string {
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? this.entries / seconds : 0;
    const parts = [`${this.entries.toLocaleString('en-US')} entries`, bytesText(this.bytesRead), `${Math.round(rate).toLocaleString('en-US')} entries/s`];
    if (this.totalBytes > 0) {
      const share = Math.min(1, this.bytesRead / this.totalBytes);
      const bar = '#'.repeat(Math.round(share * WIDTH)).padEnd(WIDTH, '.');
      const byteRate = seconds > 0 ? this.bytesRead / seconds : 0;
      const eta = byteRate > 0 ? Math.ceil((this.totalBytes - this.bytesRead) / byteRate) : 0;
      return `[${bar}] ${Math.round(share * 100)}% ${parts.join(', ')}, ETA ${eta} s`;
    }
    return parts.join(', ');
  }
}
