import fs from "node:fs";
import path from "node:path";

/**
 * The fixture app dressed as a Moodle build, for the upgrade tests (integration and e2e): its
 * version.php, layout (5.1's public/ or the code root before it), plugin types and
 * admin/environment.xml. Every build also ships mod/assignish, a module with one subplugin type
 * (assignishsub, in mod/assignish/sub) declared in its db/subplugins.json as Moodle's modules do.
 */
export interface FixtureBuild {
  version: string;
  release: string;
  /** version.php's $branch, e.g. "501". */
  branch: string;
  publicDir: boolean;
  /** environment.xml blocks: [Moodle version, requires]. */
  env: [version: string, requires: string][];
}

export const envXml = (blocks: [version: string, requires: string][]) =>
  `<?xml version="1.0" encoding="UTF-8" ?>\n<COMPATIBILITY_MATRIX>\n${blocks
    .map(([v, req]) => `  <MOODLE version="${v}" requires="${req}">\n    <DATABASE level="required">\n      <VENDOR name="mariadb" version="10.11.0" />\n      <VENDOR name="postgres" version="15" />\n    </DATABASE>\n    <PHP version="8.2.0" level="required">\n    </PHP>\n  </MOODLE>`)
    .join("\n")}\n</COMPATIBILITY_MATRIX>\n`;

/** A plugin's version.php, as the site's admins would add it. */
export const pluginVersion = (component: string, supported: [number, number]) =>
  `<?php\ndefined('MOODLE_INTERNAL') || die();\n$plugin->component = '${component}';\n$plugin->version = 2025050100;\n$plugin->requires = 2025041400;\n$plugin->supported = [${supported.join(", ")}];\n`;

/** The fixture app's folder; import.meta, not helpers/cli's __dirname, so Playwright's ESM loader takes it too. */
const FIXTURE_APP = path.resolve(import.meta.dirname, "..", "fixture-app");

export function fixtureBuild(dir: string, o: FixtureBuild): void {
  fs.cpSync(FIXTURE_APP, dir, { recursive: true });
  if (!o.publicDir) {
    // Moodle before 5.1: the web root is the code root, and config.php is the real one.
    for (const f of ["index.php", "login", "version.php"]) fs.renameSync(path.join(dir, "public", f), path.join(dir, f));
    fs.rmSync(path.join(dir, "public"), { recursive: true });
  }
  const web = o.publicDir ? path.join(dir, "public") : dir;
  const vp = path.join(web, "version.php");
  fs.writeFileSync(vp, fs.readFileSync(vp, "utf8")
    .replace("2025100600.00", o.version).replace("'fixture 1.0'", `'${o.release}'`).replace("$branch   = 'fixture'", `$branch   = '${o.branch}'`));
  const pre = o.publicDir ? "public/" : "";
  fs.writeFileSync(path.join(dir, "lib", "components.json"), JSON.stringify({ plugintypes: { local: `${pre}local`, mod: `${pre}mod` } }));
  // A shipped module with subplugins; 5.1 writes both spellings, older builds only plugintypes (from the web root).
  const mod = path.join(web, "mod", "assignish");
  fs.mkdirSync(path.join(mod, "db"), { recursive: true });
  fs.mkdirSync(path.join(mod, "sub", "core1"), { recursive: true });
  fs.writeFileSync(path.join(mod, "version.php"), pluginVersion("mod_assignish", [500, 501]));
  fs.writeFileSync(path.join(mod, "sub", "core1", "version.php"), pluginVersion("assignishsub_core1", [500, 501]));
  fs.writeFileSync(path.join(mod, "db", "subplugins.json"), JSON.stringify(
    o.publicDir ? { subplugintypes: { assignishsub: "sub" }, plugintypes: { assignishsub: "mod/assignish/sub" } } : { plugintypes: { assignishsub: "mod/assignish/sub" } },
  ));
  fs.mkdirSync(path.join(web, "admin"), { recursive: true });
  fs.writeFileSync(path.join(web, "admin", "environment.xml"), envXml(o.env));
}
