import path from "node:path";
import { ping } from "../../lib/docker";
import { run } from "../../lib/images/base";
import { ensureImages } from "../../lib/images/build";
import { ensureHostImage, repoRoot } from "../../lib/host/image";
import { syncSharedImages } from "../../lib/host/shared";
import { exitCodeFor } from "./exit";
import { defaultHostOptions, initialAdminPassword, outerMtu, startHost, stopHost, waitHealthy } from "../../lib/host/container";

/**
 * `moodle-dind up`: the README's one start command. (1) make sure an engine answers
 * (scripts/engine.sh), (2) make sure the default stack's images exist on it — built offline from
 * the Debian mirror when there is no registry — and sit in shared-images/ for the inner engine to
 * preload, (3) build the host image when its recipe changed, (4) start the host container and wait
 * for its health check, (5) print the dashboard URL and the admin login.
 * `moodle-dind down`: stop the host; the volumes keep every instance.
 */
const DEFAULT_STACK = [
  { kind: "php", version: "8.2" },
  { kind: "postgres", version: "15" },
  { kind: "nginx", version: "1.22" },
  { kind: "mariadb", version: "10.11" },
];

const say = (l: string) => process.stderr.write(`up: ${l}\n`);

export async function hostUp(opts: { allInterfaces?: boolean } = {}): Promise<number> {
  const root = repoRoot();
  try {
    say("checking the Docker engine (scripts/engine.sh)");
    await run(["bash", path.join(root, "scripts", "engine.sh")], (l) => say(l), "scripts/engine.sh");
    await ping();

    say(`images for the default stack: ${DEFAULT_STACK.map((w) => `${w.kind}:${w.version}`).join(", ")}`);
    await ensureImages(DEFAULT_STACK, (l) => say(l));
    const o = defaultHostOptions(root, opts.allInterfaces === true);
    const shared = await syncSharedImages(o.sharedDir, DEFAULT_STACK, say);
    say(`shared-images: ${shared.written.length} written, ${shared.current.length} already current`);

    const img = await ensureHostImage({ root, onProgress: (l) => say(l) });
    say(`${img.ref}: ${img.status}`);

    o.mtu ??= await outerMtu();
    const { mode } = await startHost(o, say);
    say(`waiting for the host to be healthy (inner dockerd + dashboard), mode: ${mode}`);
    await waitHealthy(o.name, 240_000, say);

    const shown = o.bindAddress === "0.0.0.0" ? "127.0.0.1" : o.bindAddress;
    const url = `http://${shown}:${o.dashboardPort}/`;
    const lines = [
      "",
      `Dashboard:  ${url}${o.bindAddress === "0.0.0.0" ? "  (published on all interfaces)" : ""}`,
      `Instances:  ${o.bindAddress}:${o.outerPortBase}-${o.outerPortBase + (o.portMax - o.portMin)}`,
      "DB admin and mail: from each instance in the dashboard (/adminer, /api/v1/instances/<name>/mail)",
      `Moodle:     upload a package on the dashboard's Moodle page, or put packages or trees in ${o.moodleSourcesDir} (read-only in the host)`,
    ];
    if (process.env.MDIND_ADMIN_PASSWORD) {
      lines.push("Login:      admin / the password in MDIND_ADMIN_PASSWORD");
    } else {
      const pw = await initialAdminPassword(o.name);
      lines.push(
        pw
          ? `Login:      admin / ${pw}   (generated at first start; if you changed it since, use yours)`
          : `Login:      admin / (set earlier; see \`docker logs\` of the first start or set MDIND_ADMIN_PASSWORD)`,
      );
    }
    lines.push(`Stop:       moodle-dind down   (nothing is lost: volumes ${o.dockerVolume}, ${o.dataVolume})`, "");
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } catch (e) {
    say(`failed: ${e instanceof Error ? e.message : String(e)}`);
    return exitCodeFor(e);
  }
}

export async function hostDown(): Promise<number> {
  const o = defaultHostOptions(repoRoot());
  try {
    await ping();
    const stopped = await stopHost(o.name, (l) => process.stderr.write(`down: ${l}\n`));
    process.stdout.write(
      stopped
        ? `${o.name} stopped. Instances and data are kept in volumes ${o.dockerVolume} and ${o.dataVolume}; \`moodle-dind up\` brings them back.\n`
        : `${o.name} was not running.\n`,
    );
    return 0;
  } catch (e) {
    process.stderr.write(`down: failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
