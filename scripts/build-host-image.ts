// Build (or confirm up to date) the DinD host image moodle-dind/host:latest, for compose users and
// CI: `npx tsx scripts/build-host-image.ts [--force]`. `moodle-dind up` does the same on its own.
import { ensureHostImage } from "../lib/host/image";

const force = process.argv.includes("--force");
try {
  const r = await ensureHostImage({ force, onProgress: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${r.ref}: ${r.status} (recipe ${r.hash}, ${r.seconds.toFixed(0)}s)\n`);
} catch (e) {
  process.stderr.write(`build-host-image: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
