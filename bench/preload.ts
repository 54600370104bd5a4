/**
 * bench preload: throughput of the DinD host's image preload (lib/images/preload.ts runPreload, the real
 * code) against a raw read of the same tarball (`cat file > /dev/null`), both from a cold page
 * cache. The tarball holds a bench-only image: a flattened copy of a small local image imported
 * under a throwaway tag, so its one layer is shared with nothing and every load really extracts
 * it. Only that tag is ever removed.
 *
 *   BENCH_PRELOAD_IMAGE=moodle-dind/nginx:1.22 BENCH_ROUNDS=2 npm run bench -- preload
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { cleanup, envInt, header, onCleanup, run, table } from "./lib/common";

const ROUNDS = envInt("BENCH_ROUNDS", 2, 1, 5);
const SOURCE = process.env.BENCH_PRELOAD_IMAGE ?? "moodle-dind/nginx:1.22";
const sfx = `${process.pid.toString(36)}${Date.now().toString(36).slice(-3)}`;
const TAG = `mdind-bench-preload:${sfx}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-bench-preload-"));
const tar = path.join(dir, "bench.tar");
const log = (s: string) => process.stderr.write(`[preload ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** Drop this one file from the page cache (posix_fadvise DONTNEED via dd), so reads hit the disk. */
async function dropCache(file: string): Promise<void> {
  await run("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

async function rawRead(file: string): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const devnull = fs.openSync("/dev/null", "w");
    const p = spawn("cat", [file], { stdio: ["ignore", devnull, "inherit"] });
    p.on("error", reject);
    p.on("close", (code) => {
      fs.closeSync(devnull);
      if (code === 0) resolve();
      else reject(new Error(`cat exited ${code}`));
    });
  });
  return (performance.now() - t0) / 1000;
}

async function removeTag(): Promise<void> {
  const { docker } = await import("../lib/docker");
  await docker().getImage(TAG).remove({ force: false, noprune: false }).catch((e: { statusCode?: number }) => {
    if (e.statusCode !== 404) throw e;
  });
}

async function main() {
  const { docker } = await import("../lib/docker");
  const { runPreload } = await import("../lib/images/preload");
  const fixtureName = `mdind-bench-preload-${sfx}`;
  onCleanup(async () => {
    await removeTag().catch(() => undefined);
    await docker().getContainer(fixtureName).remove({ force: true }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  log(`making ${TAG} from a flattened ${SOURCE}`);
  const c = await docker().createContainer({ name: fixtureName, Image: SOURCE, Cmd: ["true"], Labels: { "org.moodle-dind.bench": "preload" } });
  const exp = spawn("docker", ["export", c.id], { stdio: ["ignore", "pipe", "inherit"] });
  await run("docker", ["import", "-", TAG], { input: exp.stdout! });
  await c.remove({ force: true });
  await run("docker", ["save", "-o", tar, TAG]);
  const size = fs.statSync(tar).size;
  const mb = size / 1e6;

  const raw: number[] = [];
  const cli: number[] = [];
  const load: number[] = [];
  const reported: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so neither side always runs second on a machine others are loading.
    for (const which of r % 2 === 0 ? ["raw", "load", "cli"] : ["cli", "load", "raw"]) {
      await dropCache(tar);
      if (which === "raw") {
        const s = await rawRead(tar);
        raw.push(mb / s);
        log(`round ${r + 1} raw read: ${(mb / s).toFixed(0)} MB/s`);
      } else if (which === "cli") {
        // The engine's own floor: the same archive through `docker load -i`, no code of ours.
        await removeTag();
        const t0 = performance.now();
        await run("docker", ["load", "-q", "-i", tar]);
        const s = (performance.now() - t0) / 1000;
        cli.push(mb / s);
        log(`round ${r + 1} docker load -i: ${(mb / s).toFixed(0)} MB/s`);
      } else {
        await removeTag();
        const t0 = performance.now();
        const st = await runPreload(dir, { concurrency: 1 });
        const s = (performance.now() - t0) / 1000;
        const f = st.files[0];
        if (f?.status !== "loaded") throw new Error(`preload did not load the archive: ${f?.status} ${f?.error ?? ""}`);
        load.push(mb / s);
        reported.push(((f.mbPerSec ?? 0) * 1048576) / 1e6);
        log(`round ${r + 1} preload: ${(mb / s).toFixed(0)} MB/s`);
      }
    }
  }
  await dropCache(tar);
  const warm0 = await rawRead(tar);
  const warm = mb / (await rawRead(tar).then((s) => Math.min(s, warm0)));

  const med = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    const m = Math.floor(v.length / 2);
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  };
  const ratio = med(load) / med(raw);
  console.log([
    header("preload", `${ROUNDS} round(s), one ${mb.toFixed(0)} MB docker-save archive (flattened ${SOURCE}), cold page cache each time`),
    "",
    table([
      ["", "median MB/s", "runs MB/s"],
      ["raw read (cat > /dev/null)", med(raw).toFixed(0), raw.map((x) => x.toFixed(0)).join(" ")],
      ["preload (runPreload → docker load)", med(load).toFixed(0), load.map((x) => x.toFixed(0)).join(" ")],
      ["  as preload itself reports it", med(reported).toFixed(0), reported.map((x) => x.toFixed(0)).join(" ")],
      ["docker load -i (CLI, engine only)", med(cli).toFixed(0), cli.map((x) => x.toFixed(0)).join(" ")],
      ["raw read, warm cache (for scale)", warm.toFixed(0), ""],
    ]),
    "",
    `preload / raw read: ${ratio.toFixed(2)}× (target ≥ 0.8×): ${ratio >= 0.8 ? "met" : "MISSED"}`,
    `preload / docker load -i: ${(med(load) / med(cli)).toFixed(2)}× (how much of the engine's own speed the preload keeps)`,
  ].join("\n"));
}

main()
  .then(cleanup, async (e) => {
    console.error(e);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => process.exit());
