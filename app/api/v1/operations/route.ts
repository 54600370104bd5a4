import fs from "node:fs/promises";
import { route } from "@/edge/http/edge";
import { paths } from "@/lib/config";
import { channelParam, isBusy, listOperationLogs, readOperationLog, RESERVED_CHANNELS } from "@/lib/operations";
import { NAME_RE } from "@/lib/names";

/** Operation history (newest first), from the ndjson logs; ?instance=x narrows it. */
export const GET = route(async ({ req }) => {
  const raw = new URL(req.url).searchParams.get("instance");
  const instances = raw ? [channelParam(raw)] : await fs.readdir(paths.operations()).catch(() => [] as string[]);
  const rows = instances
    .filter((i) => RESERVED_CHANNELS.includes(i) || NAME_RE.test(i))
    .flatMap((instance) => listOperationLogs(instance).slice(0, 50).map((l) => ({ instance, ...l })))
    .sort((a, b) => b.mtime - a.mtime)
    .slice(0, 100)
    .map(({ instance, id, mtime }) => {
      const events = readOperationLog(instance, id);
      const first = events[0];
      const last = events[events.length - 1];
      const running = isBusy(instance)?.id === id;
      return {
        instance,
        id,
        op: first?.op ?? null,
        startedAt: first?.ts ?? new Date(mtime).toISOString(),
        status: running ? "running" : last?.type === "done" ? "done" : last?.type === "error" ? "failed" : "interrupted",
        error: last?.type === "error" ? last.message : undefined,
        durationMs: last?.durationMs,
      };
    });
  return { operations: rows };
});
