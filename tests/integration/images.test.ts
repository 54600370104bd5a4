import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, LABEL } from "@/lib/docker";
import { AppError } from "@/lib/errors";
import { buildImage, ensureImages } from "@/lib/images/build";
import { imageRef, imageRepo, tagsFor } from "@/lib/images/catalog";
import { listImages } from "@/lib/images/list";

// Real engine, real builds from the Debian mirror. The first run takes a few minutes; later runs hit the layer cache.
const log = (l: string) => {
  if (process.env.MDIND_TEST_VERBOSE) console.log(l);
};
const created: Docker.Container[] = [];
let tmp: string;

async function run(ref: string, argv: string[], env: string[] = []): Promise<{ code: number; out: string }> {
  const c = await docker().createContainer({
    Image: ref,
    Cmd: argv,
    Env: env,
    Tty: true,
    Labels: { [LABEL.managed]: "true" },
    HostConfig: { NetworkMode: "none" },
  });
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    return { code: StatusCode, out: (await c.logs({ stdout: true, stderr: true })).toString("utf8") };
  } finally {
    await c.remove({ force: true });
  }
}

async function start(opts: Docker.ContainerCreateOptions): Promise<Docker.Container> {
  const c = await docker().createContainer({ ...opts, Labels: { [LABEL.managed]: "true" } });
  created.push(c);
  await c.start();
  return c;
}

// No TTY: a TTY makes psql start a pager and wait for a key.
async function exec(c: Docker.Container, cmd: string[], env: string[] = []): Promise<{ code: number; out: string }> {
  const e = await c.exec({ Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true, Tty: false });
  const stream = await e.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on("data", (d: Buffer) => chunks.push(d));
  docker().modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const info = await e.inspect();
  return { code: info.ExitCode ?? -1, out: Buffer.concat(chunks).toString("utf8") };
}

async function waitHealthy(c: Docker.Container, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await c.inspect()).State;
    if (s.Health?.Status === "healthy") return;
    if (!s.Running) throw new Error(`container exited (${s.ExitCode}): ${(await c.logs({ stdout: true, stderr: true })).toString()}`);
    if (Date.now() > deadline) throw new Error(`not healthy after ${timeoutMs} ms: ${JSON.stringify(s.Health?.Log?.slice(-2))}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function tagExists(ref: string): Promise<boolean> {
  try {
    await docker().getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-images-it-"));
});

afterAll(async () => {
  for (const c of created) await c.remove({ force: true }).catch(() => undefined);
  await fs.rm(tmp, { recursive: true, force: true });
});

describe.each([
  ["nginx", "1.22"],
  ["php", "8.2"],
  ["postgres", "15"],
] as const)("%s:%s", (kind, version) => {
  it("builds, then a second build is up to date, and carries its tags", async () => {
    const first = await buildImage(kind, version, { onProgress: log });
    expect(["built", "up to date"]).toContain(first.status);
    const lines: string[] = [];
    const second = await buildImage(kind, version, { onProgress: (l) => lines.push(l) });
    expect(second.status).toBe("up to date");
    expect(lines.join("\n")).toMatch(/up to date/);
    expect(second.exact).toMatch(new RegExp(`^${version.replace(".", "\\.")}\\.\\d+`));

    for (const tag of tagsFor(kind, version, second.exact!)) {
      expect(await tagExists(`${imageRepo(kind)}:${tag}`), `tag ${tag}`).toBe(true);
    }
    const info = await docker().getImage(imageRef(kind, version)).inspect();
    expect(info.Config.Labels?.[LABEL.kind]).toBe(kind);
    expect(info.Config.Labels?.[LABEL.version]).toBe(version);
    expect(info.Config.Labels?.[LABEL.recipe]).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("php image", () => {
  const ref = () => imageRef("php", "8.2");

  it("has every extension Moodle needs, and xdebug installed but not loaded", async () => {
    const { code, out } = await run(ref(), ["php", "-m"]);
    expect(code).toBe(0);
    const mods = out.split(/\r?\n/).map((l) => l.trim().toLowerCase());
    for (const m of ["pgsql", "mysqli", "intl", "zip", "gd", "soap", "xml", "mbstring", "curl", "sodium", "zend opcache", "exif"]) {
      expect(mods, m).toContain(m);
    }
    expect(mods).not.toContain("xdebug");
    const avail = await run(ref(), ["ls", "/etc/php/8.2/mods-available"]);
    expect(avail.out).toContain("xdebug.ini");
  });

  it("has the tools the stack relies on, www-data is uid 33, and the ini scan dir is set", async () => {
    const { code, out } = await run(ref(), [
      "bash",
      "-c",
      "command -v curl ps psql mariadb flock setpriv tini >/dev/null && id -u www-data && echo $PHP_INI_SCAN_DIR",
    ]);
    expect(code, out).toBe(0);
    expect(out).toContain("33");
    expect(out).toContain(":/etc/moodle-dind/php");
  });

  it("serves php-fpm on :9000 and reports healthy", async () => {
    const c = await start({ Image: ref(), HostConfig: { NetworkMode: "bridge" } });
    await waitHealthy(c);
    const r = await exec(c, ["bash", "-c", "cat /run/mdind-mode; ps -o user= -C php-fpm8.2 | sort | uniq -c"]);
    expect(r.out).toContain("fpm");
    expect(r.out).toContain("www-data");
  });

  it("reloads php-fpm to free OPcache once an idle site's last worker is gone, never while in use, and stops at once", async () => {
    // The product's pool (ondemand, here with a 2 s idle timeout) and no image health check: the
    // check connects to :9000, which is itself a request to an ondemand pool.
    const setup = [
      "mkdir -p /var/www/moodledata/sessions /etc/moodle-dind/php",
      "printf 'idle_minutes = 5\\n' >/etc/moodle-dind/php/cron.conf",
      "printf '[global]\\ndaemonize = no\\nprocess_control_timeout = 10s\\n[www]\\nuser = www-data\\ngroup = www-data\\nlisten = 0.0.0.0:9000\\npm = ondemand\\npm.max_children = 2\\npm.process_idle_timeout = 2s\\n' >/etc/moodle-dind/php/fpm.conf",
      "exec mdind-php fpm",
    ].join(" && ");
    const c = await start({ Image: ref(), Cmd: ["bash", "-c", setup], Env: ["MDIND_FPM_IDLE_TICK_S=1"], Healthcheck: { Test: ["NONE"] }, HostConfig: { NetworkMode: "none" } });
    const sh = (cmd: string) => exec(c, ["bash", "-c", cmd]);
    const reloads = async () => ((await c.logs({ stdout: true, stderr: true })).toString().match(/reloading it to free its OPcache/g) ?? []).length;
    const master = async () => (await sh("ps -o pid= -C php-fpm8.2 | head -n 1")).out.trim();
    // A request, as far as an ondemand pool can tell: a connection makes it fork a worker.
    const request = () => sh("exec 3<>/dev/tcp/127.0.0.1/9000; sleep 0.2; exec 3>&-");
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await expect.poll(master, { timeout: 30_000, interval: 500 }).toMatch(/^\d+$/);
    const pid = await master();
    // Nothing served yet: nothing to free.
    await pause(4_000);
    expect(await reloads()).toBe(0);
    // In use (a signed-in user's session, just written): served, the worker gone, still no reload.
    await sh(`printf '%s' 'USER|O:8:"stdClass":9:{s:2:"id";s:1:"2";}' >/var/www/moodledata/sessions/sess_user`);
    await request();
    await pause(6_000);
    expect(await reloads()).toBe(0);
    // Nobody for an hour: the next tick reloads once, and the master keeps its pid.
    await sh("touch -d '1 hour ago' /var/www/moodledata/sessions/sess_user");
    await expect.poll(reloads, { timeout: 15_000, interval: 500 }).toBe(1);
    await pause(4_000);
    expect(await reloads()).toBe(1);
    expect(await master()).toBe(pid);
    // An anonymous page on the idle site fills the cache again: freed again once its worker exits.
    await request();
    await expect.poll(reloads, { timeout: 15_000, interval: 500 }).toBe(2);
    expect((await sh("ps -o user= -C php-fpm8.2 | sort -u")).out).toContain("root");
    // The dashboard's own reload after a database restart (docker kill -s USR2, passed on by tini)
    // reaches php-fpm and leaves the container running.
    await c.kill({ signal: "SIGUSR2" });
    await pause(2_000);
    expect((await c.inspect()).State.Running).toBe(true);
    expect(await master()).toBe(pid);
    // docker stop ends it at once (the wrapper passes TERM on), not after the engine's timeout.
    const t0 = Date.now();
    await c.stop({ t: 20 });
    expect(Date.now() - t0).toBeLessThan(8_000);
  });

  it("runs the cron script once a minute as www-data and records the run", async () => {
    const offset = (new Date().getUTCSeconds() + 6) % 60;
    const c = await start({
      Image: ref(),
      Cmd: ["cron"],
      Env: ["CRON_SCRIPT=/tmp/cron.php", `CRON_OFFSET=${offset}`],
      HostConfig: { NetworkMode: "none" },
    });
    await exec(c, ["bash", "-c", "printf '<?php echo \"ran as \", posix_getpwuid(posix_geteuid())[\"name\"], \"\\n\"; exit(3);' >/tmp/cron.php"]);
    await waitHealthy(c);
    const deadline = Date.now() + 75_000;
    let last = "";
    while (Date.now() < deadline) {
      last = (await exec(c, ["cat", "/var/log/moodle-dind-cron/last-run.json"])).out;
      if (last.includes("exitCode")) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const rec = JSON.parse(last) as { start: string; durationMs: number; exitCode: number; skipped: boolean };
    expect(rec.exitCode).toBe(3);
    expect(rec.skipped).toBe(false);
    expect(rec.durationMs).toBeGreaterThanOrEqual(0);
    expect(Number.isNaN(Date.parse(rec.start))).toBe(false);
    expect((await c.logs({ stdout: true, stderr: true })).toString()).toContain("ran as www-data");
    expect((await exec(c, ["cat", "/var/log/moodle-dind-cron/cron.log"])).out).toMatch(/exit=3 .*skipped=false/);
  });

  it("tells a signed-in user's session from an anonymous one, and never runs cron.conf", async () => {
    const c = await start({ Image: ref(), Cmd: ["sleep", "600"], HostConfig: { NetworkMode: "none" } });
    const state = async () => (await exec(c, ["mdind-php", "cron-active"])).out.trim();
    const sh = async (cmd: string) => expect((await exec(c, ["bash", "-c", cmd])).code).toBe(0);
    // No sessions folder (database or Redis sessions): no way to tell, so every minute.
    expect(await state()).toBe("minute");
    await sh("mkdir -p /var/www/moodledata/sessions && touch -d '1 hour ago' /var/www/moodledata/sessions/sess_old");
    expect(await state()).toBe("idle");
    // What Moodle writes for a visitor who has not signed in (id 0), then for a signed-in user.
    await sh(`printf '%s' 'USER|O:8:"stdClass":6:{s:2:"id";i:0;s:10:"mnethostid";s:1:"1";}' >/var/www/moodledata/sessions/sess_anon`);
    expect(await state()).toBe("idle");
    await sh(`printf '%s' 'USER|O:8:"stdClass":52:{s:2:"id";s:1:"2";s:4:"auth";s:6:"manual";}' >/var/www/moodledata/sessions/sess_user`);
    expect(await state()).toBe("minute");
    await sh("touch -d '1 hour ago' /var/www/moodledata/sessions/sess_user");
    expect(await state()).toBe("idle");
    // The dashboard's wake mark (terminal, blueprint, login link).
    await sh("touch /var/www/moodledata/.mdind-cron-wake");
    expect(await state()).toBe("minute");
    await sh("rm /var/www/moodledata/.mdind-cron-wake");
    // The file is user-edited: a hostile line is never run, and the last idle_minutes line wins.
    await sh(`printf '%s\\n' '# test' 'idle_minutes = 5' 'idle_minutes = $(touch /tmp/pwned)' 'idle_minutes = 0' >/etc/moodle-dind/php/cron.conf`);
    expect(await state()).toBe("minute");
    expect((await exec(c, ["bash", "-c", "test -e /tmp/pwned && echo PWNED || echo clean"])).out.trim()).toBe("clean");
  });

  it("does not run cron at once when an idle site starts, and runs the next tick once a signed-in user comes", async () => {
    // First tick in ~10 s. idle_minutes = 1440: whatever the offset, an idle site's first run after
    // a start is at least 24 minutes away, so only a signed-in user can make the third tick run.
    const offset = (new Date().getUTCSeconds() + 10) % 60;
    const c = await start({
      Image: ref(),
      Cmd: ["bash", "-c", "mkdir -p /var/www/moodledata/sessions /etc/moodle-dind/php && touch -d '1 hour ago' /var/www/moodledata/sessions/sess_old && printf 'idle_minutes = 1440\\n' >/etc/moodle-dind/php/cron.conf && exec mdind-php cron"],
      Env: ["CRON_SCRIPT=/tmp/cron.php", `CRON_OFFSET=${offset}`],
      HostConfig: { NetworkMode: "none" },
    });
    expect((await exec(c, ["bash", "-c", "printf '<?php exit(0);' >/tmp/cron.php"])).code).toBe(0);
    const runs = async () => (await exec(c, ["bash", "-c", "cat /var/log/moodle-dind-cron/cron.log 2>/dev/null | wc -l"])).out.trim();
    const cadence = async () => (await exec(c, ["bash", "-c", "cat /var/log/moodle-dind-cron/cadence.json 2>/dev/null"])).out;
    // A slow container start can push the first tick a minute later: wait for its cadence, then time from it.
    await expect.poll(cadence, { timeout: 90_000, interval: 1000 }).toContain('"idle"');
    const tick1 = Date.now();
    expect(JSON.parse(await cadence())).toMatchObject({ cadence: "idle", idleMinutes: 1440 });
    expect(await runs()).toBe("0");
    // An anonymous visit before the second tick: still idle, no run.
    await exec(c, ["bash", "-c", `printf '%s' 'USER|O:8:"stdClass":6:{s:2:"id";i:0;}' >/var/www/moodledata/sessions/sess_anon`]);
    await new Promise((r) => setTimeout(r, Math.max(0, tick1 + 60_000 + 8_000 - Date.now())));
    expect(await runs()).toBe("0");
    // A signed-in user: the third tick runs, and the cadence says so.
    await exec(c, ["bash", "-c", `printf '%s' 'USER|O:8:"stdClass":9:{s:2:"id";s:1:"2";}' >/var/www/moodledata/sessions/sess_user`]);
    await expect.poll(runs, { timeout: Math.max(5_000, tick1 + 135_000 - Date.now()), interval: 1000 }).toBe("1");
    expect(JSON.parse(await cadence())).toMatchObject({ cadence: "minute", idleMinutes: 1440 });
  });
});

describe("postgres image", () => {
  it("initialises an empty data dir with the role and database, and answers pg_isready", async () => {
    const pw = path.join(tmp, "db_password");
    await fs.writeFile(pw, "s3cret 'with' quotes\\\n", { mode: 0o644 });
    const c = await start({
      Image: imageRef("postgres", "15"),
      Env: ["DB_USER=moodleuser", "DB_NAME=moodledb"],
      HostConfig: { Binds: [`${pw}:/run/secrets/db_password:ro`], NetworkMode: "bridge" },
    });
    await waitHealthy(c);
    const ready = await exec(c, ["pg_isready", "-h", "127.0.0.1", "-U", "moodleuser"]);
    expect(ready.code).toBe(0);
    const q = await exec(
      c,
      ["psql", "-h", "127.0.0.1", "-U", "moodleuser", "-d", "moodledb", "-Atc", "select current_user || '/' || current_database()"],
      ["PGPASSWORD=s3cret 'with' quotes\\"],
    );
    expect(q.out.trim()).toBe("moodleuser/moodledb");
    const bad = await exec(c, ["psql", "-h", "127.0.0.1", "-U", "moodleuser", "-d", "moodledb", "-c", "select 1"], ["PGPASSWORD=wrong"]);
    expect(bad.code).not.toBe(0);
    expect((await c.logs({ stdout: true, stderr: true })).toString()).not.toContain("s3cret");
  });
});

describe("ensureImages", () => {
  it("refuses to build a missing image when automatic builds are off", async () => {
    const prev = { prefix: process.env.MDIND_IMAGE_PREFIX, auto: process.env.MDIND_AUTO_BUILD };
    process.env.MDIND_IMAGE_PREFIX = "mdind-test-missing";
    process.env.MDIND_AUTO_BUILD = "0";
    try {
      const err = await ensureImages([{ kind: "php", version: "8.2" }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).kind).toBe("capacity");
      expect((err as AppError).message).toMatch(/mdind-test-missing\/php:8.2 is missing; run `moodle-dind images build php:8.2`/);
    } finally {
      for (const [k, v] of [["MDIND_IMAGE_PREFIX", prev.prefix], ["MDIND_AUTO_BUILD", prev.auto]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("does nothing for images that exist, and lists them with their exact version", async () => {
    await ensureImages([{ kind: "php", version: "8.2" }, { kind: "postgres", version: "15" }, { kind: "nginx", version: "1.22" }]);
    const rows = await listImages();
    const php = rows.find((r) => r.kind === "php" && r.version === "8.2")!;
    expect(php.present).toBe(true);
    expect(php.upToDate).toBe(true);
    expect(php.exact).toMatch(/^8\.2\.\d+$/);
    expect(php.sizeBytes).toBeGreaterThan(50e6);
  });
});
