/**
 * Run `fn` with an abort signal that fires after `ms`, and reject then even if `fn` ignores the
 * signal. Unlike AbortSignal.timeout, whose timer is unref'd, this timer holds the event loop: a
 * short-lived CLI process whose only pending work is the wait must report the timeout, not end
 * with nothing said (seen once with `cluster create` waiting on a port that accepted but never
 * answered). The timer is cleared as soon as `fn` settles, so it never keeps a finished process alive.
 */
export async function withDeadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new Error(`no answer within ${ms} ms`);
      ac.abort(e);
      reject(e);
    }, ms);
  });
  try {
    return await Promise.race([fn(ac.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
