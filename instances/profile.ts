import fs from "node:fs/promises";
import { z } from "zod";
import path from "node:path";
import { docker } from "../lib/docker";
import { engineError, ValidationError } from "../lib/errors";
import { runOperation } from "../lib/operations";
import { validateName } from "../lib/names";
import { phpIni } from "./render";
import { containerName } from "./stack";
import { configDir, readRecord, readSecrets, updateRecord, type InstanceRecord } from "./store";
import { renderContext, startServices } from "./lifecycle";
import { waitReady } from "./ready";

/**
 * Performance profile of an instance: "dev" revalidates code on every request (edits show at once)
 * and displays errors; "prod" never revalidates (OPcache serves compiled code until the app
 * restarts) and hides errors. Xdebug stays off in both (installed but disabled in the image).
 * Switching rewrites only the profile's own lines of config/php-X/php.ini, so the user's other
 * edits survive, then restarts the app container, because OPcache reads these at start.
 */
export const PROFILES = ["dev", "prod"] as const;
export type Profile = (typeof PROFILES)[number];
/** Body of POST /api/v1/instances/{name}/profile (the route and the OpenAPI document share it). */
export const profileBodySchema = z.object({ profile: z.enum(PROFILES) }).strict();

export function profileLines(profile: Profile): Record<string, string> {
  const prod = profile === "prod";
  return { "opcache.validate_timestamps": prod ? "0" : "1", display_errors: prod ? "Off" : "On" };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Replace each profile key's active line (a commented-out `;key = …` is left alone); a key the
 * user deleted is appended. Pure, so the edit is unit-testable.
 */
export function applyProfile(ini: string, profile: Profile): string {
  let out = ini.replace(/^(; moodle-dind php\.ini for .*profile )(dev|prod)\)/m, `$1${profile})`);
  for (const [key, value] of Object.entries(profileLines(profile))) {
    const re = new RegExp(`^[ \\t]*${escapeRe(key)}[ \\t]*=.*$`, "gm");
    if (re.test(out)) out = out.replace(re, `${key} = ${value}`);
    else out = `${out.replace(/\n?$/, "\n")}${key} = ${value}\n`;
  }
  return out;
}

export function parseProfile(v: unknown): Profile {
  if (typeof v !== "string" || !(PROFILES as readonly string[]).includes(v)) throw new ValidationError("profile must be dev or prod", "profile");
  return v as Profile;
}

export async function setProfile(name: string, profileRaw: string): Promise<InstanceRecord> {
  validateName(name);
  const profile = parseProfile(profileRaw);
  const rec = await readRecord(name);
  return runOperation(name, "profile", async (op) => {
    const spec = { ...rec.spec, profile };
    const changed = await op.step("config", async () => {
      const file = path.join(configDir(name, "php", rec.spec.php), "php.ini");
      let before: string;
      try {
        before = await fs.readFile(file, "utf8");
      } catch {
        // A deleted php.ini comes back whole, from defaults, for the new profile.
        const secrets = await readSecrets(name);
        before = phpIni(renderContext(spec, rec.n, rec.port, rec.source.publicDir, secrets.dbPassword));
        await fs.writeFile(file, before);
      }
      const after = applyProfile(before, profile);
      if (after !== before) await fs.writeFile(file, after);
      op.log(`config/php-${rec.spec.php}/php.ini: ${Object.entries(profileLines(profile)).map(([k, v]) => `${k} = ${v}`).join(", ")}`);
      return after !== before;
    });
    const updated = await updateRecord(name, { spec });
    const app = docker().getContainer(containerName(name, "app"));
    const running = await app.inspect().then((i) => i.State.Running, () => false);
    if (!running) {
      op.log("the app is not running: the profile applies at its next start");
      return updated;
    }
    if (!changed) {
      op.log(`already ${profile}: nothing to restart`);
      return updated;
    }
    await op.step("restart", async () => {
      await app.stop({ t: 10 }).catch((e) => {
        const code = (e as { statusCode?: number }).statusCode;
        if (code !== 304 && code !== 404) throw engineError(`stopping ${containerName(name, "app")}`, e);
      });
      await startServices(name, ["app"]);
      await waitReady(name, spec, rec.port, ["app", "web"], (l) => op.log(l));
    });
    return updated;
  });
}
