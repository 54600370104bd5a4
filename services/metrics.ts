import { subscribe, type OpEvent } from "../lib/operations";
import { preloadState } from "../lib/images/preload";
import { listViews } from "./events";

/**
 * Prometheus text exposition (format 0.0.4) for the dashboard process: instances by state,
 * operation and step durations (histograms fed by the operation channel), image build times and
 * the shared-images preload. State lives on globalThis because the custom server and Next's
 * bundled route code are two module graphs in one process; both must see the same counters.
 */
const BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

interface MetricsState {
  started: boolean;
  /** key = JSON of the label set */
  ops: Map<string, Histogram>;
  steps: Map<string, Histogram>;
  builds: Map<string, Histogram>;
}

const g = globalThis as unknown as { __mdindMetrics?: MetricsState };
g.__mdindMetrics ??= { started: false, ops: new Map(), steps: new Map(), builds: new Map() };
const state = g.__mdindMetrics;

/** Labels become series keys; at most this many series per family so hostile names cannot grow memory. */
const MAX_SERIES = 500;

function observe(map: Map<string, Histogram>, labels: Record<string, string>, seconds: number): void {
  const key = JSON.stringify(labels);
  let h = map.get(key);
  if (!h) {
    if (map.size >= MAX_SERIES) return;
    h = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
    map.set(key, h);
  }
  BUCKETS.forEach((b, i) => {
    if (seconds <= b) h!.buckets[i]++;
  });
  h.sum += seconds;
  h.count++;
}

export function recordEvent(ev: OpEvent): void {
  if (ev.durationMs === undefined) return;
  const s = ev.durationMs / 1000;
  if (ev.type === "done" || ev.type === "error") {
    observe(state.ops, { op: ev.op, outcome: ev.type === "done" ? "ok" : "failed" }, s);
    if (ev.instance === "_images" && ev.type === "done") observe(state.builds, { via: "images build" }, s);
  } else if (ev.type === "step" && (ev.status === "done" || ev.status === "failed")) {
    observe(state.steps, { op: ev.op, step: ev.step ?? "", outcome: ev.status === "done" ? "ok" : "failed" }, s);
    // A create's "images" step is where missing images are built on demand.
    if (ev.step === "images" && ev.status === "done") observe(state.builds, { via: "create" }, s);
  }
}

/** Start listening to the operation channel (idempotent; called once by the server's background start). */
export function startMetrics(): void {
  if (state.started) return;
  state.started = true;
  subscribe("*", recordEvent);
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labelText = (labels: Record<string, string>) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

function histogram(name: string, help: string, map: Map<string, Histogram>): string[] {
  const out = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  for (const [key, h] of map) {
    const labels = JSON.parse(key) as Record<string, string>;
    BUCKETS.forEach((b, i) => out.push(`${name}_bucket${labelText({ ...labels, le: String(b) })} ${h.buckets[i]}`));
    out.push(`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${h.count}`);
    out.push(`${name}_sum${labelText(labels)} ${h.sum}`);
    out.push(`${name}_count${labelText(labels)} ${h.count}`);
  }
  return out;
}

const STATES = ["running", "stopped", "partial", "creating", "installing", "failed", "removing", "busy"];

export async function renderMetrics(): Promise<string> {
  const out: string[] = [];
  const views = await listViews();
  out.push("# HELP mdind_instances Instances by state.", "# TYPE mdind_instances gauge");
  for (const s of STATES) out.push(`mdind_instances${labelText({ state: s })} ${views.filter((v) => v.status === s).length}`);
  out.push(...histogram("mdind_operation_duration_seconds", "Duration of instance operations (create, remove, restart …) by outcome.", state.ops));
  out.push(...histogram("mdind_operation_step_duration_seconds", "Duration of each operation step.", state.steps));
  out.push(...histogram("mdind_image_build_seconds", "Time spent building or checking images (images build, and a create's images step).", state.builds));
  const pre = preloadState();
  out.push("# HELP mdind_preload_files Shared-images tarballs by preload status.", "# TYPE mdind_preload_files gauge");
  for (const s of ["pending", "checking", "skipped", "loading", "loaded", "failed"]) {
    out.push(`mdind_preload_files${labelText({ status: s })} ${pre.files.filter((f) => f.status === s).length}`);
  }
  out.push("# HELP mdind_preload_file_seconds Time each preloaded tarball took to check and load.", "# TYPE mdind_preload_file_seconds gauge");
  for (const f of pre.files) {
    if (!f.startedAt || !f.finishedAt) continue;
    const secs = (Date.parse(f.finishedAt) - Date.parse(f.startedAt)) / 1000;
    out.push(`mdind_preload_file_seconds${labelText({ file: f.file, status: f.status })} ${secs}`);
  }
  const total = pre.startedAt && pre.finishedAt ? (Date.parse(pre.finishedAt) - Date.parse(pre.startedAt)) / 1000 : 0;
  out.push("# HELP mdind_preload_seconds Duration of the last whole preload run (0 when none ran).", "# TYPE mdind_preload_seconds gauge");
  out.push(`mdind_preload_seconds ${total}`);
  out.push("# HELP mdind_process_uptime_seconds Dashboard process uptime.", "# TYPE mdind_process_uptime_seconds gauge");
  out.push(`mdind_process_uptime_seconds ${process.uptime()}`);
  return `${out.join("\n")}\n`;
}
