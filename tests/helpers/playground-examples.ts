import fs from "node:fs";
import path from "node:path";
import { standinFor, standinZip } from "./standin-plugins";

/**
 * Moodle Playground's example blueprints, read from a folder outside this repository
 * (MDIND_PLAYGROUND_BLUEPRINTS: its assets/blueprints/examples/*.blueprint.json, plus default.blueprint.json
 * and blueprint-sample.json when present). Playground is GPL-3.0 and this repository carries no copy of them.
 */
export const PLAYGROUND_DIR = process.env.MDIND_PLAYGROUND_BLUEPRINTS;

export function playgroundExamples(dir = PLAYGROUND_DIR): { name: string; file: string }[] {
  if (!dir) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ name: f.replace(/(\.blueprint)?\.json$/, ""), file: path.join(dir, f) }));
}

/** installMoodlePlugin / installTheme steps that download from the internet. */
export function urlSteps(doc: { steps: Record<string, unknown>[] }): Record<string, unknown>[] {
  return doc.steps.filter((s) => (s.step === "installMoodlePlugin" || s.step === "installTheme") && typeof s.url === "string");
}

/**
 * The same blueprint as a local bundle: each plugin/theme URL becomes a bundled ZIP of a stand-in with the
 * same component (tests/helpers/standin-plugins.ts); every other step is left exactly as it is.
 * Returns the bundle folder, or null when the example needs no download.
 */
export function localBundleFor(file: string, outDir: string): string | null {
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { steps: Record<string, unknown>[] };
  const steps = urlSteps(doc);
  if (steps.length === 0) return null;
  fs.mkdirSync(path.join(outDir, "plugins"), { recursive: true });
  for (const s of steps) {
    const component = standinFor(String(s.url));
    if (!component) throw new Error(`no local stand-in for ${String(s.url)}`);
    fs.writeFileSync(path.join(outDir, "plugins", `${component}.zip`), standinZip(component));
    delete s.url;
    s.data = { bundled: `plugins/${component}.zip` };
  }
  fs.writeFileSync(path.join(outDir, "blueprint.json"), `${JSON.stringify(doc, null, 2)}\n`);
  return outDir;
}
