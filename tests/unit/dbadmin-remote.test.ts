import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { forwardCmd } from "../../lib/cluster/exec-pipe";
import { closeTunnel, liveTunnel } from "../../services/cluster/dbtunnel";
import { mintClusterAdminerLogin, tunnelMarkerDir } from "../../services/dbadmin/remote";
import { tunnelPort } from "../../services/dbadmin/target";
import { execFrame as frame, roundTrip } from "../helpers/tcp";

/**
 * The DB admin login for a cluster instance, down to the bytes, with the engine faked: the db task's
 * exec runs its argv here as a child process (the perl forwarder), with the container's own
 * 127.0.0.1:5432 standing for a local stand-in database, and answers in Docker's exec framing.
 */
const state = vi.hoisted(() => ({ kind: "postgres" as string | undefined, execs: [] as Record<string, unknown>[], dbPort: 0 }));

/** A hijacked exec connection backed by a local process: stdin raw, stdout and stderr framed. */
function fakeHijack(cmd: string[]): Duplex {
  // Inside the container the database is on 127.0.0.1:5432/3306; here, on the stand-in's port.
  const argv = [...cmd.slice(0, -1), String(state.dbPort)];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      child.stdin.write(chunk, cb);
    },
    final(cb) {
      child.stdin.end(cb);
    },
    destroy(err, cb) {
      child.kill("SIGKILL");
      cb(err);
    },
  });
  child.stdout.on("data", (b: Buffer) => d.push(frame(1, b)));
  child.stderr.on("data", (b: Buffer) => d.push(frame(2, b)));
  child.on("close", () => d.push(null));
  return d;
}

const engine = {
  getContainer: (id: string) => ({
    inspect: async () => ({ Id: id, Config: { Labels: state.kind ? { "org.moodle-dind.kind": state.kind } : {} } }),
    exec: async (o: Record<string, unknown>) => {
      state.execs.push(o);
      return { start: async () => fakeHijack(o.Cmd as string[]) };
    },
  }),
};

vi.mock("../../services/cluster/terminal", () => ({
  clusterShellTarget: async (name: string, service: string) => (name === "cl1" && service === "db" ? { engine, container: "db-task-1", node: "clit-node2" } : null),
}));
vi.mock("../../lib/cluster/engine-io", async (orig) => ({
  ...(await orig<typeof import("../../lib/cluster/engine-io")>()),
  execOn: async (_e: unknown, container: string, cmd: string[]) => {
    state.execs.push({ container, Cmd: cmd });
    return { exitCode: 0, stdout: Buffer.from("s3cr3t\n"), stderr: "" };
  },
}));

let home: string;
let db: net.Server;
const saved = { ...process.env };
const owner = { key: "session:abc", until: Date.now() + 600_000, alive: () => true };

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-dbremote-"));
  process.env.MDIND_HOME = home;
  // The stand-in database: answers the sha256 of everything once the client half-closes.
  db = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash("sha256");
    s.on("data", (d: Buffer) => h.update(d));
    s.on("end", () => s.end(h.digest()));
  });
  await new Promise<void>((r) => db.listen(0, "127.0.0.1", r));
  state.dbPort = (db.address() as net.AddressInfo).port;
});

afterAll(async () => {
  process.env = { ...saved };
  await new Promise((r) => db.close(r));
  fs.rmSync(home, { recursive: true, force: true });
});


describe("DB admin login for a cluster instance", () => {
  it("is none for a name that is no cluster instance here", async () => {
    expect(await mintClusterAdminerLogin("local1", owner)).toBeNull();
  });

  it("opens a tunnel owned by the session, writes the login through it and the marker Adminer checks", async () => {
    state.kind = "postgres";
    state.execs = [];
    // A marker a killed dashboard left behind, for a port no tunnel listens on now.
    fs.mkdirSync(tunnelMarkerDir(), { recursive: true });
    fs.writeFileSync(path.join(tunnelMarkerDir(), "9149"), "stale\n");
    const m = await mintClusterAdminerLogin("cl1", owner);
    expect(m).not.toBeNull();
    const port = tunnelPort(m!.login.server)!;
    expect(port).not.toBeNull();
    expect(m!.login).toEqual({ driver: "pgsql", server: `127.0.0.1:${port}`, username: "moodle", db: "moodle" });
    const live = liveTunnel(port)!;
    expect(live).toMatchObject({ instance: "cl1", owner: "session:abc" });
    const token = /mdind_token=([A-Za-z0-9_-]{43})$/.exec(m!.location)![1];
    const file = JSON.parse(fs.readFileSync(path.join(home, "state", "adminer", `${token}.json`), "utf8")) as Record<string, unknown>;
    expect(file).toMatchObject({ driver: "pgsql", server: `127.0.0.1:${port}`, password: "s3cr3t", instance: "cl1", tunnel: live.id });
    const marker = path.join(tunnelMarkerDir(), String(port));
    expect(fs.readFileSync(marker, "utf8").trim()).toBe(live.id);
    expect(state.execs[0]).toEqual({ container: "db-task-1", Cmd: ["cat", "/run/secrets/db_password"] });
    expect(fs.existsSync(path.join(tunnelMarkerDir(), "9149"))).toBe(false);

    // A connection to the tunnel is an exec in the db task running the forwarder, bytes both ways.
    const data = randomBytes(200_000);
    expect((await roundTrip(port, data)).equals(createHash("sha256").update(data).digest())).toBe(true);
    expect(state.execs.at(-1)).toMatchObject({ Cmd: forwardCmd(5432), User: "nobody", AttachStdin: true, AttachStdout: true, Tty: false });

    await closeTunnel(port);
    expect(liveTunnel(port)).toBeNull();
    expect(fs.existsSync(marker)).toBe(false);
  });

  it("uses MySQL's driver and port for a MariaDB task", async () => {
    state.kind = "mariadb";
    const m = (await mintClusterAdminerLogin("cl1", owner))!;
    const port = tunnelPort(m.login.server)!;
    expect(m.login.driver).toBe("server");
    expect((await roundTrip(port, Buffer.from("x"))).length).toBe(32);
    expect(state.execs.at(-1)).toMatchObject({ Cmd: forwardCmd(3306) });
    await closeTunnel(port);
  });

  it("refuses a db task that runs no moodle-dind database image, leaving no tunnel", async () => {
    state.kind = undefined;
    await expect(mintClusterAdminerLogin("cl1", owner)).rejects.toMatchObject({ kind: "conflict" });
    expect(fs.readdirSync(tunnelMarkerDir())).toEqual([]);
  });
});
