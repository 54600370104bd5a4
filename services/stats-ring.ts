/**
 * The last 15 minutes of stats samples, kept in memory so a page opened now draws its charts
 * with history instead of starting empty. Pure (no engine), so it is unit-tested on its own.
 */
export interface ServiceStats {
  cpuPercent: number;
  memBytes: number;
  /** Network receive/transmit rate in bytes per second since the previous sample. */
  rxBps: number;
  txBps: number;
}

export interface InstanceStats extends ServiceStats {
  instance: string;
  memLimitBytes: number;
  services: Record<string, ServiceStats>;
}

export interface StatsSample {
  /** Epoch ms when the sample was taken. */
  at: number;
  instances: InstanceStats[];
}

export const HISTORY_WINDOW_MS = 15 * 60_000;
// A hard cap as well as the window: a fast interval (tests) must not grow the buffer without bound.
const MAX_SAMPLES = 360;

export class StatsRing {
  private buf: StatsSample[] = [];
  constructor(
    private readonly windowMs = HISTORY_WINDOW_MS,
    private readonly maxSamples = MAX_SAMPLES,
  ) {}

  push(sample: StatsSample): void {
    // Out-of-order samples (a clock step back) would draw a line backwards: drop them.
    const last = this.buf[this.buf.length - 1];
    if (last && sample.at <= last.at) return;
    this.buf.push(sample);
    const oldest = sample.at - this.windowMs;
    let drop = 0;
    while (drop < this.buf.length && this.buf[drop].at < oldest) drop++;
    drop = Math.max(drop, this.buf.length - this.maxSamples);
    if (drop > 0) this.buf.splice(0, drop);
  }

  samples(): StatsSample[] {
    return this.buf.slice();
  }

  get lastAt(): number {
    return this.buf[this.buf.length - 1]?.at ?? 0;
  }
}

/** Bytes per second between two counter readings; 0 for a counter reset or no previous reading. */
export function ratePerSec(prev: number | undefined, cur: number, seconds: number): number {
  if (prev === undefined || !(seconds > 0) || cur < prev) return 0;
  return Math.round((cur - prev) / seconds);
}
