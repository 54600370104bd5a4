/**
 * Run `fn` with an abort signal that fires after `ms`. Unlike AbortSignal.timeout, whose timer is
 * unref'd, this timer holds the event loop: a short-lived CLI process waiting on a socket that
 * accepted but never answers would otherwise just end mid-wait (exit 1, no message). The timer is
 * cleared as soon as `fn` settles, so it never keeps a finished process alive.
 */
export async function withDeadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no answer within ${ms} ms`)), ms);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(timer);
  }
}
