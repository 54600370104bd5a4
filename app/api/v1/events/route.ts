import { route } from "@/edge/http/edge";
import { sseStream } from "@/edge/http/streams";
import { onOp, onStatus, opsAfter, startStatusWatcher } from "@/services/events";
import { statsHistory, watchStats } from "@/services/stats";
import { channelParam, replay, subscribe } from "@/lib/operations";
import { ValidationError } from "@/lib/errors";

export const dynamic = "force-dynamic";

/**
 * The one live stream. Events: `op` (operation progress), `status` (an instance's new view, from
 * docker events), `stats` (CPU/memory every 10 s while someone listens).
 *  - no query: everything; ids are a process-wide sequence, so Last-Event-ID / ?after= replays
 *    what a reconnecting client missed;
 *  - ?instance=x[&after=seq]: one instance (or "_images", "_moodle"), replaying its channel after seq;
 *  - ?only=stats: the charts' feed: `history` (the last 15 minutes) once, then `sample` ({at, instances}).
 */
export const GET = route(async ({ req }) => {
  startStatusWatcher();
  const url = new URL(req.url);
  const instanceRaw = url.searchParams.get("instance");
  const instance = instanceRaw === null ? null : channelParam(instanceRaw);
  const afterRaw = url.searchParams.get("after") ?? req.headers.get("last-event-id") ?? "0";
  const after = Number.parseInt(afterRaw, 10);
  if (!Number.isFinite(after) || after < 0) throw new ValidationError("after: a non-negative event id", "after");

  if (url.searchParams.get("only") === "stats") {
    return sseStream(req.signal, (send) => {
      send({ event: "history", data: statsHistory() });
      return watchStats((instances, at) => send({ event: "sample", data: { at, instances } }));
    });
  }

  return sseStream(req.signal, (send) => {
    send({ event: "hello", data: { instance, now: new Date().toISOString() } });
    const offs: (() => void)[] = [];
    if (instance) {
      for (const ev of replay(instance, after)) send({ event: "op", id: String(ev.seq), data: ev });
      offs.push(subscribe(instance, (ev) => send({ event: "op", id: String(ev.seq), data: ev })));
      offs.push(onStatus((s) => s.instance === instance && send({ event: "status", data: s })));
    } else {
      for (const { gseq, ev } of opsAfter(after)) send({ event: "op", id: String(gseq), data: ev });
      offs.push(onOp(({ gseq, ev }) => send({ event: "op", id: String(gseq), data: ev })));
      offs.push(onStatus((s) => send({ event: "status", data: s })));
      offs.push(watchStats((stats) => send({ event: "stats", data: stats })));
    }
    return () => offs.forEach((off) => off());
  });
});
