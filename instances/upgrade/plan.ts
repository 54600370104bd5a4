import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { listManagedContainers, LABEL } from "../../lib/docker";
import { ConflictError, ValidationError } from "../../lib/errors";
import { presentImages } from "../../lib/images/list";
import { isStableBuild, meetsRequires, normalizeVersion, readEnvironment } from "../../lib/moodle/environment";
import { resolveBuild, type BuildInfo } from "../../lib/moodle/library";
import { BRANCH_RE, treeDir } from "../../lib/moodle/paths";
import { addedPlugins, parsePluginVersion, pluginBlocker, readPluginFile, readPluginTypes } from "../../lib/moodle/plugins";
import { nameSchema } from "../../lib/names";
import { compareVersions, findBranch, stackDefaults } from "../../lib/versions";
import type { InstanceSpec } from "../spec";
import { dataDir, readRecord, type InstanceRecord } from "../store";
import { buildSubpluginTypes, nestedSubplugins } from "./subplugins";

/**
 * Everything an upgrade checks before it touches the site, by Moodle's own rules read from the
 * target build: no downgrade (upgrade.php's "downgradedcore"), the oldest release it upgrades from
 * (`requires` of its admin/environment.xml block), its PHP and database minimums, and the plugins
 * the site added (carried over only when their version.php allows the target).
 */
export const upgradeInputSchema = z
  .object({
    to: z
      .string()
      .max(40)
      .regex(/^(\d\.\d{1,2}|\d\.\d{1,2}\.\d{1,2}|\d\.\d{1,2}-\d{10}(\.\d{2})?-[0-9a-f]{8})$/, "a branch (5.1), a release (5.1.2) or a Moodle build id"),
    /** Upgrade a clone made under this name instead; the source is left as it is. */
    clone: nameSchema.optional(),
  })
  .strict();
export type UpgradeInput = z.output<typeof upgradeInputSchema>;

export interface CarriedPlugin {
  component: string;
  /** Folder in the old code and in the new one, relative to the code root (5.1 moves them under public/). */
  from: string;
  to: string;
  /** Subplugins inside its folder (its own db/subplugins.json), which go over with it. */
  subplugins: string[];
}

export interface UpgradePlan {
  rec: InstanceRecord;
  build: BuildInfo;
  /** The spec after the upgrade: the target's branch and the PHP it will run. */
  spec: InstanceSpec;
  carry: CarriedPlugin[];
  /** Added plugins the target build now ships itself: its own copy is used. */
  shipped: string[];
  /** No lib/components.json in a tree: plugin folders cannot be told apart (the CI fixture). */
  pluginsChecked: boolean;
  allowUnstable: boolean;
}

const DB_LABEL = { postgres: "PostgreSQL", mariadb: "MariaDB" } as const;

export async function planUpgrade(name: string, to: string): Promise<UpgradePlan> {
  const rec = await readRecord(name);
  if (rec.state !== "ready") throw new ConflictError(`${name} is ${rec.state}: only a ready instance can be upgraded`);
  if (!BRANCH_RE.test(rec.source.branch) || !rec.source.version) {
    throw new ValidationError(`${name} runs the ${rec.source.branch} app, which has no upgrade path: only sites made from a Moodle build can be upgraded`, "name");
  }
  await assertRunning(name);
  const build = await resolveBuild(to);
  const from = `${rec.source.release} ($version ${rec.source.version})`;
  if (Number(build.version) < Number(rec.source.version)) {
    throw new ValidationError(`refused: ${build.release} ($version ${build.version}) is older than ${name}'s ${from}; Moodle cannot downgrade`, "to");
  }
  if (Number(build.version) === Number(rec.source.version)) throw new ValidationError(`${name} already runs ${from}: nothing to upgrade`, "to");
  const tree = treeDir(build.id);
  const env = await readEnvironment(tree, build.publicDir, build.release);
  if (env.requires && !meetsRequires(rec.source.release, env.requires)) {
    throw new ValidationError(
      `refused by Moodle ${env.block}'s upgrade rule: it upgrades only from ${env.requires} or later (admin/environment.xml), and ${name} runs ${normalizeVersion(rec.source.release)}; upgrade to an intermediate release first`,
      "to",
    );
  }
  const branch = findBranch(build.branch);
  if (!branch) throw new ValidationError(`Moodle ${build.branch} is not in this host's version table, so its stack is unknown`, "to");

  // The current PHP when the target branch allows it, else the branch's first-click default.
  const php = branch.php.includes(rec.spec.php) ? rec.spec.php : stackDefaults(branch, await presentImages()).php;
  if (env.php && compareVersions(php, env.php) < 0) throw new ValidationError(`Moodle ${build.release} needs PHP ${env.php} or later; this host offers ${branch.php.join(", ")} for ${build.branch}`, "to");
  const { engine, version: dbVersion } = rec.spec.db;
  const dbMin = env.db[engine];
  if (!dbMin) throw new ValidationError(`Moodle ${build.release} does not support ${DB_LABEL[engine]} (admin/environment.xml)`, "to");
  if (compareVersions(dbVersion, dbMin) < 0 || !branch[engine].includes(dbVersion)) {
    throw new ValidationError(
      `refused: Moodle ${build.branch} needs ${DB_LABEL[engine]} ${dbMin} or later (this host runs it on ${branch[engine].join(", ")}) and ${name} runs ${dbVersion}; a database major upgrade is a separate step, not built yet`,
      "to",
    );
  }
  const plugins = await planPlugins(rec, build, tree);
  return {
    rec, build, ...plugins,
    spec: { ...rec.spec, moodle: build.branch, php },
    allowUnstable: !(await isStableBuild(tree, build.publicDir)),
  };
}

async function assertRunning(name: string): Promise<void> {
  const running = new Set((await listManagedContainers({ instance: name, running: true })).map((c) => c.Labels?.[LABEL.service]));
  const down = ["db", "app", "web"].filter((s) => !running.has(s));
  if (down.length) throw new ConflictError(`${name} is not running (${down.join(", ")} down): start it first, the upgrade runs Moodle's own CLI in it`);
}

/**
 * The site's added plugins, refused together when any cannot go onto the target. Subplugins count
 * too: one added to a plugin the build ships is found through the build's subplugin types, and the
 * subplugins inside an added plugin go over with it, so each must allow the target as well.
 */
async function planPlugins(rec: InstanceRecord, build: BuildInfo, tree: string): Promise<Pick<UpgradePlan, "carry" | "shipped" | "pluginsChecked">> {
  const srcTree = rec.source.buildId ? treeDir(rec.source.buildId) : null;
  if (!srcTree || !(await exists(srcTree))) {
    throw new ConflictError(`the build ${rec.name} runs (${rec.source.release}) is not in the library: add it again so its own plugins can be told from the ones the site added`);
  }
  const [srcTop, tgtTop] = await Promise.all([readPluginTypes(srcTree), readPluginTypes(tree)]);
  if (!srcTop || !tgtTop) return { carry: [], shipped: [], pluginsChecked: false };
  const srcTypes = { ...(await buildSubpluginTypes(srcTree, srcTop, rec.source.publicDir)), ...srcTop };
  const tgtTypes = { ...(await buildSubpluginTypes(tree, tgtTop, build.publicDir)), ...tgtTop };
  const code = dataDir(rec.name, "code");
  const carry: CarriedPlugin[] = [];
  const shipped: string[] = [];
  const blocked: string[] = [];
  for (const p of await addedPlugins(code, srcTree, srcTypes)) {
    const decl = parsePluginVersion(await readPluginFile(path.join(code, p.dir, "version.php")));
    const component = decl.component ?? `${p.type}_${p.name}`;
    const dir = Object.hasOwn(tgtTypes, p.type) ? tgtTypes[p.type] : undefined;
    if (!dir) {
      blocked.push(`${component} (Moodle ${build.branch} has no ${p.type} plugins)`);
      continue;
    }
    if (await exists(path.join(tree, dir, p.name))) {
      shipped.push(component);
      continue;
    }
    const own = pluginBlocker(decl, build);
    const refused = own ? [`${component} (${own})`] : [];
    const subplugins: string[] = [];
    for (const s of await nestedSubplugins(code, p.dir, rec.source.publicDir)) {
      const sub = parsePluginVersion(await readPluginFile(path.join(code, s.dir, "version.php")));
      const subName = sub.component ?? `${s.type}_${s.name}`;
      const subWhy = pluginBlocker(sub, build);
      if (subWhy) refused.push(`${subName}, a subplugin of ${component} (${subWhy})`);
      subplugins.push(subName);
    }
    if (refused.length) blocked.push(...refused);
    else carry.push({ component, from: p.dir, to: `${dir}/${p.name}`, subplugins });
  }
  if (blocked.length) {
    throw new ConflictError(`refused: plugins added to ${rec.name} that Moodle ${build.release} cannot take: ${blocked.join("; ")}. Remove them or add versions that support ${build.branch}`, "to");
  }
  return { carry, shipped, pluginsChecked: true };
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}
