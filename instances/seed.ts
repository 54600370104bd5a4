import fs from "node:fs/promises";
import path from "node:path";
import { run } from "../lib/proc";
import { copyCode } from "./source";
import { dumpTo } from "./db";
import { dataDir, instanceDir, readRecord } from "./store";
import type { Seed } from "./create";

/**
 * What clone and import put into a new instance before its containers start: moodledata (without
 * caches and sessions, which belong to the old site) and a database dump to restore.
 */
export const SKIP_MOODLEDATA = ["sessions", "cache", "localcache", "temp", "lock", "trashdir"];

async function copyMoodledata(src: string, dest: string): Promise<void> {
  const entries = (await fs.readdir(src).catch(() => [] as string[])).filter((e) => !SKIP_MOODLEDATA.includes(e));
  if (entries.length) await run("cp", ["-a", "--reflink=auto", ...entries.map((e) => path.join(src, e)), `${dest}/`]);
  await run("chown", ["-R", "33:33", dest]);
}

/** Returns the path of the dump to restore once the new database answers. */
export async function seedData(name: string, seed: Seed): Promise<string> {
  if (seed.kind === "clone") {
    const src = await readRecord(seed.from);
    const dump = path.join(instanceDir(name), "seed.dump");
    await dumpTo(seed.from, src.spec, dump);
    await copyMoodledata(dataDir(seed.from, "moodledata"), dataDir(name, "moodledata"));
    return dump;
  }
  await copyMoodledata(path.join(seed.dir, "moodledata"), dataDir(name, "moodledata"));
  return path.join(seed.dir, "db.dump");
}

/**
 * A clone's code: hard links like any instance, except files PHP could write (owned by www-data,
 * e.g. plugins added to the source site), which get real copies so the two sites never share them.
 */
export async function copyCodeFromInstance(src: string, dest: string): Promise<void> {
  await copyCode(src, dest, { link: true });
  const { stdout } = await run("find", [dest, "-type", "f", "-user", "33", "-links", "+1", "-print0"]);
  for (const f of stdout.split("\0").filter(Boolean)) {
    const tmp = `${f}.mdind-copy`;
    await fs.copyFile(f, tmp);
    await fs.rename(tmp, f);
    await fs.chown(f, 33, 33);
  }
}
