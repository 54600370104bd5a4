import { describe, expect, it } from "vitest";
import { ratePerSec, StatsRing } from "../../services/stats-ring";

const sample = (at: number) => ({ at, instances: [] });

describe("StatsRing", () => {
  it("keeps only the window and drops out-of-order samples", () => {
    const r = new StatsRing(60_000, 1000);
    for (let t = 0; t <= 120_000; t += 10_000) r.push(sample(t));
    expect(r.samples().map((s) => s.at)).toEqual([60_000, 70_000, 80_000, 90_000, 100_000, 110_000, 120_000]);
    r.push(sample(115_000));
    r.push(sample(120_000));
    expect(r.lastAt).toBe(120_000);
    expect(r.samples()).toHaveLength(7);
  });

  it("caps the number of samples even inside the window", () => {
    const r = new StatsRing(60_000, 3);
    for (let t = 1; t <= 10; t++) r.push(sample(t));
    expect(r.samples().map((s) => s.at)).toEqual([8, 9, 10]);
  });

  it("hands out a copy", () => {
    const r = new StatsRing();
    r.push(sample(1));
    r.samples().pop();
    expect(r.samples()).toHaveLength(1);
  });
});

describe("ratePerSec", () => {
  it("is 0 without a previous reading, on a counter reset or a zero interval", () => {
    expect(ratePerSec(undefined, 100, 10)).toBe(0);
    expect(ratePerSec(500, 100, 10)).toBe(0);
    expect(ratePerSec(100, 200, 0)).toBe(0);
    expect(ratePerSec(100, 200, Number.NaN)).toBe(0);
  });
  it("divides the difference by the seconds", () => {
    expect(ratePerSec(1000, 21_000, 10)).toBe(2000);
  });
});
