import { describe, expect, inject, it } from "vitest";
import { FULL, inventory, request, sleep, summary, type ApiResult } from "./helpers";

/**
 * Scenario 1: concurrency through the REST API of the running dashboard. N creates at once, then
 * a mixed storm of creates, duplicate creates, deletes, restarts and stops on the same names. Every
 * answer is a success or a clear refusal (4xx with a message, never 5xx); afterwards no two
 * instances share a subnet or a port and nothing is left in the engine or on disk.
 */
const rel = inject("rel");
const api = (method: string, p: string, body?: unknown) => request(rel.base, method, p, body, { authorization: `Bearer ${rel.token}` });
const N = FULL ? 20 : 8;
const sfx = Math.random().toString(36).slice(2, 6);
const names = Array.from({ length: N }, (_, i) => `cc${sfx}-${i + 1}`);
const OK = new Set([200, 201, 202]);
const CLEAR = new Set([404, 409, 422]);

/**
 * Wait until no named instance has an operation running or is in a transitional state. Asked per
 * name (the record itself, not the list's event-fed cache, which may not show a create yet), and
 * quiet twice in a row a few seconds apart, so an operation queued behind another is not missed.
 */
async function settle(list: string[], mustExist: boolean, maxMs = 600_000): Promise<Record<string, string>> {
  const until = Date.now() + maxMs;
  let quiet = 0;
  for (;;) {
    const views = await Promise.all(list.map((n) => api("GET", `/api/v1/instances/${n}`)));
    const state: Record<string, string> = {};
    const moving: string[] = [];
    views.forEach((r, i) => {
      if (r.status === 404) {
        if (mustExist) moving.push(`${list[i]}=absent`);
        return;
      }
      state[list[i]] = String(r.json?.status);
      if (r.status !== 200 || r.json?.operation || ["creating", "installing", "removing", "busy"].includes(r.json?.status)) {
        moving.push(`${list[i]}=${r.json?.status ?? r.status}`);
      }
    });
    quiet = moving.length === 0 ? quiet + 1 : 0;
    if (quiet >= 2) return state;
    if (Date.now() > until) throw new Error(`still moving: ${moving.join(", ")}`);
    await sleep(2000);
  }
}

type View = { name: string; subnet: string; port: number; status: string };

/** Every instance of the data folder: ours read one by one (authoritative), the rest from the list. */
async function views(ours: string[]): Promise<View[]> {
  const others = ((await api("GET", "/api/v1/instances")).json.instances as View[]).filter((v) => !ours.includes(v.name));
  const mine = (await Promise.all(ours.map((n) => api("GET", `/api/v1/instances/${n}`)))).filter((r) => r.status === 200).map((r) => r.json as View);
  return [...others, ...mine];
}

function judge(r: ApiResult, what: string, bad: string[]): void {
  if (OK.has(r.status)) return;
  const msg = r.json?.error?.message;
  if (CLEAR.has(r.status) && typeof msg === "string" && msg.length > 0) return;
  bad.push(`${what}: ${r.status} ${r.text.slice(0, 200)}`);
}

describe("concurrency", () => {
  it(`${N} concurrent creates and a mixed storm leave no duplicates and no orphans`, async () => {
    const bad: string[] = [];
    let requests = 0;
    const started = Date.now();
    const creates = await Promise.all(
      names.map((name) => api("POST", "/api/v1/instances", { name, moodle: "fixture", install: false })),
    );
    requests += creates.length;
    creates.forEach((r, i) => judge(r, `create ${names[i]}`, bad));
    expect(creates.filter((r) => r.status === 202)).toHaveLength(N);
    const afterCreate = await settle(names, true);
    const createSecs = (Date.now() - started) / 1000;
    const running = Object.values(afterCreate).filter((s) => s === "running").length;

    const list = await views(names);
    const mine = list.filter((v) => names.includes(v.name));
    const all = list;
    const dupSubnets = all.length - new Set(all.map((v) => v.subnet)).size;
    const dupPorts = all.length - new Set(all.map((v) => v.port)).size;

    // The storm: every name gets two things at once, from this mix.
    const extra = Array.from({ length: Math.ceil(N / 2) }, (_, i) => `cs${sfx}-${i + 1}`);
    const storm: Promise<void>[] = [];
    const fire = (method: string, p: string, body?: unknown) =>
      storm.push(api(method, p, body).then((r) => { requests++; judge(r, `${method} ${p}`, bad); }));
    names.forEach((name, i) => {
      const kind = i % 4;
      if (kind === 0) { fire("DELETE", `/api/v1/instances/${name}`); fire("POST", `/api/v1/instances/${name}/actions/restart`, {}); }
      if (kind === 1) { fire("POST", `/api/v1/instances/${name}/actions/restart`, {}); fire("DELETE", `/api/v1/instances/${name}`); }
      if (kind === 2) { fire("POST", `/api/v1/instances/${name}/actions/stop`, {}); fire("POST", "/api/v1/instances", { name, moodle: "fixture", install: false }); }
      if (kind === 3) { fire("DELETE", `/api/v1/instances/${name}`); fire("DELETE", `/api/v1/instances/${name}`); }
    });
    for (const name of extra) {
      fire("POST", "/api/v1/instances", { name, moodle: "fixture", install: false });
      fire("POST", "/api/v1/instances", { name, moodle: "fixture", install: false });
    }
    await Promise.all(storm);
    const everything = [...names, ...extra];
    await settle(everything, false);

    const list2 = await views(everything);
    const dupSubnets2 = list2.length - new Set(list2.map((v) => v.subnet)).size;
    const dupPorts2 = list2.length - new Set(list2.map((v) => v.port)).size;
    const failedStates = list2.filter((v) => everything.includes(v.name) && !["running", "stopped"].includes(v.status));

    // Clean up through the API too, then look at the engine and the disk directly.
    const left = list2.filter((v) => everything.includes(v.name)).map((v) => v.name);
    const removes = await Promise.all(left.map((name) => api("DELETE", `/api/v1/instances/${name}?wait=1`)));
    removes.forEach((r, i) => judge(r, `final delete ${left[i]}`, bad));
    const inv = await inventory(rel.home);
    const orphanContainers = inv.containers.filter((c) => everything.includes(c.instance));
    const orphanFolders = inv.folders.filter((f) => everything.includes(f));
    const keptN = new Set(list2.filter((v) => !everything.includes(v.name)).map((v) => v.subnet));
    const orphanNetworks = inv.networks.filter((n) => !keptN.has(n.subnet) && n.name !== "mdind-shared");
    const rec = await api("POST", "/api/v1/reconcile?dryRun=1");

    const orphans = orphanContainers.length + orphanFolders.length + orphanNetworks.length;
    summary(
      `concurrency: ${N} creates (${running} running in ${createSecs.toFixed(0)} s), storm of ${storm.length} requests, ` +
        `${dupSubnets + dupSubnets2 + dupPorts + dupPorts2} duplicates, ${orphans} orphans, ${bad.length} unclear answers of ${requests}`,
    );
    expect(bad).toEqual([]);
    expect(running).toBe(mine.length);
    expect(mine).toHaveLength(N);
    expect([dupSubnets, dupPorts, dupSubnets2, dupPorts2]).toEqual([0, 0, 0, 0]);
    expect(failedStates).toEqual([]);
    expect({ orphanContainers, orphanFolders, orphanNetworks }).toEqual({ orphanContainers: [], orphanFolders: [], orphanNetworks: [] });
    expect(rec.json.consistent).toBe(true);
  });
});
