import { snapshotInstance } from "./instances";
import { readState, type ClusterInstance } from "./state";

/**
 * Snapshots on a timer, so "a lost node's instances come back from the latest snapshot" loses at
 * most one interval of work without anyone remembering to run `cluster snapshot`. The dashboard
 * runs it (services/background.ts); each minute it snapshots, one at a time, the instances whose
 * latest snapshot is older than MDIND_CLUSTER_SNAPSHOT_MINUTES (default 60; 0 turns it off).
 * An instance busy with another cluster operation, or on a node that does not answer, is skipped
 * and tried again at the next tick.
 */
const TICK_MS = 60_000;
const MAX_MINUTES = 7 * 24 * 60;

export function snapshotIntervalMs(raw = process.env.MDIND_CLUSTER_SNAPSHOT_MINUTES): number {
  const m = raw === undefined || raw.trim() === "" ? 60 : Number(raw);
  if (!Number.isFinite(m) || m <= 0) return 0;
  return Math.round(Math.min(m, MAX_MINUTES) * 60_000);
}

/** Instances whose latest snapshot is missing or at least `minAgeMs` old, the oldest first. */
export function dueSnapshots(instances: ClusterInstance[], now: number, minAgeMs: number): string[] {
  const at = (i: ClusterInstance) => (i.snapshot ? Date.parse(i.snapshot.at) : Number.NEGATIVE_INFINITY);
  return instances
    .filter((i) => !i.snapshot || !Number.isFinite(at(i)) || now - at(i) >= minAgeMs)
    .sort((a, b) => (at(a) || 0) - (at(b) || 0) || a.name.localeCompare(b.name))
    .map((i) => i.name);
}

export type RoundLog = (event: string, fields?: Record<string, unknown>) => void;

/** One pass: every due instance, one at a time. */
export async function snapshotRound(log: RoundLog, minAgeMs = snapshotIntervalMs()): Promise<{ taken: string[]; skipped: { name: string; why: string }[] }> {
  const s = await readState();
  const taken: string[] = [];
  const skipped: { name: string; why: string }[] = [];
  if (!s) return { taken, skipped };
  for (const name of dueSnapshots(Object.values(s.instances), Date.now(), minAgeMs)) {
    try {
      const r = await snapshotInstance(name, () => undefined, { wait: false });
      taken.push(name);
      log("cluster_snapshot", { name, bytes: r.bytes, at: r.at });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      skipped.push({ name, why });
      log("cluster_snapshot_skipped", { name, why });
    }
  }
  return { taken, skipped };
}

/** Start the timer; returns its stop. Rounds never overlap: a long one delays the next tick. */
export function startSnapshotSchedule(log: RoundLog): () => void {
  const interval = snapshotIntervalMs();
  if (!interval) return () => undefined;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    snapshotRound(log, interval)
      .catch((e: unknown) => log("cluster_snapshot_round_failed", { error: e instanceof Error ? e.message : String(e) }))
      .finally(() => (running = false));
  }, TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
