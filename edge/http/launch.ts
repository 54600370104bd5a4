import { subscribe } from "../../lib/operations";

/**
 * Start a long operation and answer as soon as it has an id: resolves with the operation id when
 * its "start" event appears, rejects when `fn` fails before that (validation, conflict), so the
 * caller can still answer 422/409. Later failures travel on the operation channel only. When `fn`
 * finishes without starting an operation (nothing to do), it resolves with opId null.
 */
export function launch<T>(instance: string, fn: () => Promise<T>): Promise<{ opId: string | null; done: Promise<T> }> {
  return new Promise((resolve, reject) => {
    let done: Promise<T> | null = null;
    const off = subscribe(instance, (ev) => {
      if (ev.type !== "start") return;
      off();
      resolve({ opId: ev.opId, done: done! });
    });
    done = fn();
    // A promise settles once: after "start" resolved it, these change nothing.
    done.then(
      () => {
        off();
        resolve({ opId: null, done: done! });
      },
      (e: unknown) => {
        off();
        reject(e);
      },
    );
  });
}

/** `?wait=1`: the caller wants the finished result instead of 202 + operation id. */
export function wantsWait(req: Request): boolean {
  const w = new URL(req.url).searchParams.get("wait");
  return w === "1" || w === "true";
}

/**
 * A route's answer for a long operation on `channel`: 202 with `body` and the operation id (its
 * progress on /api/v1/events?instance=channel), or with ?wait=1 the finished result.
 */
export async function launchAnswer<T>(req: Request, channel: string, fn: () => Promise<T>, body: Record<string, unknown>): Promise<Response | T> {
  const { opId, done } = await launch(channel, fn);
  if (wantsWait(req)) return done;
  return Response.json({ ...body, operation: opId }, { status: 202 });
}
