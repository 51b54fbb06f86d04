/** A token bucket: `rate` tokens a second up to `burst`; a take is all or nothing. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private rate: number,
    private burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** The most one take can ever get. */
  get capacity(): number {
    return this.burst;
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }

  /** Seconds until `n` tokens are there (0: now); Infinity when `n` is over the burst. */
  wait(n: number, now: number): number {
    if (n > this.burst) return Infinity;
    this.refill(now);
    return n <= this.tokens ? 0 : (n - this.tokens) / this.rate;
  }

  /** Takes `n` tokens; call after `wait` said 0. */
  take(n: number): void {
    this.tokens -= n;
  }

  /** A new rate and burst (this process's share changed, or the config): what is saved is kept up to the new burst. */
  resize(rate: number, burst: number, now: number): void {
    this.refill(now);
    this.rate = rate;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }
}
