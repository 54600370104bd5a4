/**
 * Login throttling: at most `max` failures per `windowMs` per key (a device cookie or a client
 * address, see device.ts). Kept in memory on globalThis because the custom server and Next's
 * bundled route code are separate module graphs in one process; a restart forgets the counters,
 * which only helps a legitimate user.
 */
export interface RateLimiter {
  /** Milliseconds until the key may try again, or 0 when it may try now. */
  retryAfter(key: string, now?: number): number;
  fail(key: string, now?: number): void;
  reset(key: string): void;
}

export function createRateLimiter(max = 5, windowMs = 60_000): RateLimiter {
  const failures = new Map<string, number[]>();
  const prune = (key: string, now: number) => {
    const list = (failures.get(key) ?? []).filter((t) => now - t < windowMs);
    if (list.length) failures.set(key, list);
    else failures.delete(key);
    return list;
  };
  return {
    retryAfter(key, now = Date.now()) {
      const list = prune(key, now);
      return list.length >= max ? windowMs - (now - list[0]) : 0;
    },
    fail(key, now = Date.now()) {
      const list = prune(key, now);
      list.push(now);
      failures.set(key, list);
      // Bound memory under a spray of addresses.
      if (failures.size > 10_000) failures.delete(failures.keys().next().value as string);
    },
    reset(key) {
      failures.delete(key);
    },
  };
}

const KEY = Symbol.for("moodle-dind.auth.loginLimiter");
export function loginLimiter(): RateLimiter {
  const g = globalThis as unknown as Record<symbol, RateLimiter | undefined>;
  return (g[KEY] ??= createRateLimiter(5, 60_000));
}
