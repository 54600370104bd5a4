import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { Duplex, PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { ExecDemux, execPipe, forwardCmd } from "../../lib/cluster/exec-pipe";
import { pump, type Pipe } from "../../lib/net/pump";
import { execFrame as frame, hasPerl, perlPipe, roundTrip } from "../helpers/tcp";
import { closeTunnel, liveTunnel, openTunnel, TUNNEL_PORT_MAX, TUNNEL_PORT_MIN } from "../../services/cluster/dbtunnel";

/**
 * The DB admin's tunnel to a cluster node's database, without an engine: the byte pump against
 * local servers, the forwarder the exec runs (the same perl argv, as a child process), Docker's
 * exec framing, and the listener's life. Local test servers on 127.0.0.1 only.
 */
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const opened: number[] = [];

afterEach(async () => {
  for (const p of opened.splice(0)) await closeTunnel(p);
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(onConn: (s: net.Socket) => void): Promise<number> {
  const s = net.createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    onConn(sock);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return (s.address() as net.AddressInfo).port;
}

/** Echoes every byte; closes its side when the client closes its own. */
const echo = () => listen((s) => s.pipe(s));

/** A stand-in database that answers only after the client's FIN: the sha256 of all it got, then closes. */
const hashAfterFin = () =>
  listen((s) => {
    const h = createHash("sha256");
    s.on("data", (d: Buffer) => h.update(d));
    s.on("end", () => s.end(h.digest()));
  });

/** A plain socket to `port` as the far end (what the exec is in production). */
function socketPipe(port: number): Promise<Pipe & { closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => resolve({ input: s, output: s, close: () => s.destroy(), closed: () => s.destroyed }));
    s.once("error", reject);
  });
}



/** A one-connection front that pumps into the pipe `open` gives. */
async function front(open: () => Promise<Pipe>): Promise<{ port: number; done: Promise<void> }> {
  let finished!: (p: Promise<void>) => void;
  const done = new Promise<Promise<void>>((r) => (finished = r)).then((p) => p);
  // As openTunnel does: a client reset before its pipe opens is handled, not an uncaught error.
  const port = await listen((client) => {
    client.on("error", () => client.destroy());
    void open().then((p) => finished(pump(client, p)));
  });
  return { port, done };
}


describe("pump: a client joined to a pipe", () => {
  it("carries every byte value both ways, large and binary", async () => {
    const back = await echo();
    const { port } = await front(() => socketPipe(back));
    const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(2 << 20)]);
    expect((await roundTrip(port, data)).equals(data)).toBe(true);
  });

  it("passes the client's half-close on, so an answer that waits for it still arrives", async () => {
    const back = await hashAfterFin();
    let far: Awaited<ReturnType<typeof socketPipe>> | undefined;
    const { port, done } = await front(async () => (far = await socketPipe(back)));
    const data = randomBytes(300_000);
    expect((await roundTrip(port, data)).equals(createHash("sha256").update(data).digest())).toBe(true);
    // Both ways ended: the pump is done and the far end closed.
    await done;
    expect(far?.closed()).toBe(true);
  });

  it("closes the pipe when the client resets mid-stream", async () => {
    const back = await listen(() => undefined);
    let far: Awaited<ReturnType<typeof socketPipe>> | undefined;
    const { port, done } = await front(async () => (far = await socketPipe(back)));
    const c = net.connect({ port, host: "127.0.0.1" });
    await new Promise((r) => c.on("connect", r));
    c.write("partial");
    await new Promise((r) => setTimeout(r, 50));
    c.resetAndDestroy();
    await done;
    expect(far?.closed()).toBe(true);
  });

  it("closes a pipe that opened after its client had already gone", async () => {
    let closed = false;
    let release!: () => void;
    const opening = new Promise<void>((r) => (release = r));
    const { port, done } = await front(async () => {
      await opening;
      return { input: new PassThrough(), output: new PassThrough(), close: () => (closed = true) };
    });
    const c = net.connect({ port, host: "127.0.0.1" });
    await new Promise((r) => c.on("connect", r));
    c.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    release();
    await done;
    expect(closed).toBe(true);
  });

  it("closes the client when the far end fails", async () => {
    const output = new PassThrough();
    let closed = false;
    const { port } = await front(async () => ({ input: new PassThrough(), output, close: () => (closed = true) }));
    const c = net.connect({ port, host: "127.0.0.1" });
    const ended = new Promise((r) => c.on("close", r));
    await new Promise((r) => c.on("connect", r));
    output.destroy(new Error("exec lost"));
    await ended;
    expect(closed).toBe(true);
  });
});

describe.runIf(hasPerl)("the forwarder the exec runs in the db task (perl, argv only)", () => {
  it("is a fixed script with the port as its only argument", () => {
    const cmd = forwardCmd(5432);
    expect(cmd.slice(0, 2)).toEqual(["perl", "-e"]);
    expect(cmd[3]).toBe("5432");
    expect(cmd).toHaveLength(4);
    for (const bad of [0, 65536, 1.5, Number.NaN]) expect(() => forwardCmd(bad)).toThrow();
  });

  it("carries binary both ways and half-closes the database's socket on stdin's end", async () => {
    const back = await echo();
    const { port } = await front(() => perlPipe(back));
    const data = randomBytes(1 << 20);
    expect((await roundTrip(port, data)).equals(data)).toBe(true);
    const hashed = await hashAfterFin();
    const h = await front(() => perlPipe(hashed));
    expect((await roundTrip(h.port, data)).equals(createHash("sha256").update(data).digest())).toBe(true);
  });

  it("ends the client when nothing listens where it forwards", async () => {
    const free = await listen(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    const { port } = await front(() => perlPipe(free));
    expect((await roundTrip(port, Buffer.from("hello"))).length).toBe(0);
  });
});


describe("exec framing", () => {
  it("keeps stdout, hands stderr aside, across any chunk boundary", async () => {
    const err: Buffer[] = [];
    const d = new ExecDemux((b) => err.push(b));
    const out: Buffer[] = [];
    d.on("data", (b: Buffer) => out.push(b));
    const wire = Buffer.concat([frame(1, Buffer.from([0, 1, 2])), frame(2, Buffer.from("warn")), frame(1, Buffer.alloc(0)), frame(1, Buffer.from([255, 8]))]);
    for (let i = 0; i < wire.length; i += 3) d.write(wire.subarray(i, i + 3));
    d.end();
    await new Promise((r) => d.on("end", r));
    expect(Buffer.concat(out)).toEqual(Buffer.from([0, 1, 2, 255, 8]));
    expect(Buffer.concat(err).toString()).toBe("warn");
  });

  it("refuses a stream that is not multiplexed, and one cut inside a frame", async () => {
    const a = new ExecDemux();
    const ea = new Promise((r) => a.on("error", r));
    a.resume();
    a.end(Buffer.from("HTTP/1.1 200 OK\r\n"));
    expect(String(await ea)).toMatch(/not a multiplexed/);
    const b = new ExecDemux();
    const eb = new Promise((r) => b.on("error", r));
    b.resume();
    b.end(frame(1, Buffer.from("abcdef")).subarray(0, 10));
    expect(String(await eb)).toMatch(/inside a frame/);
  });

  it("execPipe: stdin raw into the hijacked connection, stdout out of its frames, Tty off", async () => {
    const wire = new PassThrough();
    const sent: Buffer[] = [];
    const hijacked = new Duplex({
      read() {},
      write(chunk: Buffer, _e, cb) {
        sent.push(chunk);
        cb();
      },
    });
    wire.on("data", (d: Buffer) => hijacked.push(d));
    wire.on("end", () => hijacked.push(null));
    let opts: Record<string, unknown> = {};
    const engine = {
      getContainer: () => ({
        exec: async (o: Record<string, unknown>) => {
          opts = o;
          return { start: async () => hijacked };
        },
      }),
    } as never;
    const p = await execPipe(engine, "c1", forwardCmd(5432));
    expect(opts).toMatchObject({ AttachStdin: true, AttachStdout: true, Tty: false, Cmd: forwardCmd(5432) });
    const out: Buffer[] = [];
    p.output.on("data", (b: Buffer) => out.push(b));
    const ended = new Promise((r) => p.output.on("end", r));
    p.input.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]));
    wire.end(Buffer.concat([frame(1, Buffer.from("N")), frame(2, Buffer.from("log line")), frame(1, Buffer.from([0, 0xff]))]));
    await ended;
    expect(Buffer.concat(sent)).toEqual(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]));
    expect(Buffer.concat(out)).toEqual(Buffer.from([0x4e, 0, 0xff]));
  });
});

describe("a client gone before its exec opened (found in review: it crashed the process)", () => {
  it("pump over a real execPipe closes both ends and raises no unhandled error", async () => {
    const hijacked = new PassThrough();
    const engine = { getContainer: () => ({ exec: async () => ({ start: async () => hijacked }) }) } as never;
    const p = await execPipe(engine, "c1", forwardCmd(5432));
    const client = new net.Socket();
    client.destroy();
    const errors: unknown[] = [];
    const onUncaught = (e: unknown) => errors.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      await pump(client, p);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off("uncaughtException", onUncaught);
    }
    expect(errors).toEqual([]);
    expect(hijacked.destroyed).toBe(true);
    expect(p.output.destroyed).toBe(true);
  });
});

describe("openTunnel: the listener and its life", () => {
  const opts = (over: Partial<Parameters<typeof openTunnel>[1]> = {}) => ({ instance: "cl1", owner: "session:a", until: Date.now() + 60_000, ...over });

  it("listens on 127.0.0.1 in the tunnel range, one pipe per connection, and closes for good", async () => {
    const back = await echo();
    let pipes = 0;
    let closedInfo: unknown = null;
    const t = await openTunnel(
      () => {
        pipes++;
        return socketPipe(back);
      },
      opts({
        onClose: (i) => {
          closedInfo = i;
        },
      }),
    );
    opened.push(t.port);
    expect(t.port).toBeGreaterThanOrEqual(TUNNEL_PORT_MIN);
    expect(t.port).toBeLessThanOrEqual(TUNNEL_PORT_MAX);
    expect(liveTunnel(t.port)).toEqual({ id: t.id, port: t.port, instance: "cl1", owner: "session:a" });
    expect((await roundTrip(t.port, Buffer.from("one"))).toString()).toBe("one");
    expect((await roundTrip(t.port, Buffer.from("two"))).toString()).toBe("two");
    expect(pipes).toBe(2);
    const second = await openTunnel(() => socketPipe(back), opts({ owner: "session:b" }));
    opened.push(second.port);
    expect(second.port).not.toBe(t.port);
    expect(second.id).not.toBe(t.id);
    await closeTunnel(t.port);
    expect(liveTunnel(t.port)).toBeNull();
    expect(closedInfo).toMatchObject({ id: t.id, port: t.port });
    await expect(roundTrip(t.port, Buffer.from("x"))).rejects.toThrow(/ECONNREFUSED/);
  });

  it("survives a client that resets while its pipe is still opening (no uncaught error ends the dashboard)", async () => {
    let closed = false;
    let release!: () => void;
    const opening = new Promise<void>((r) => (release = r));
    const t = await openTunnel(async () => {
      await opening;
      return { input: new PassThrough(), output: new PassThrough(), close: () => (closed = true) };
    }, opts());
    opened.push(t.port);
    const c = net.connect({ port: t.port, host: "127.0.0.1" });
    await new Promise((r) => c.on("connect", r));
    c.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
    expect(liveTunnel(t.port)).not.toBeNull();
  });

  it("is one tunnel per key and owner while it is open", async () => {
    const never = () => Promise.reject(new Error("unused"));
    const a = await openTunnel(never, opts({ key: "db:cl1:postgres" }));
    opened.push(a.port);
    expect(await openTunnel(never, opts({ key: "db:cl1:postgres" }))).toEqual(a);
    const other = await openTunnel(never, opts({ key: "db:cl1:postgres", owner: "session:b" }));
    opened.push(other.port);
    expect(other.port).not.toBe(a.port);
    await closeTunnel(a.port);
    const again = await openTunnel(never, opts({ key: "db:cl1:postgres" }));
    opened.push(again.port);
    expect(again.id).not.toBe(a.id);
  });

  it("drops a connection whose pipe cannot be opened, and ends open connections on close", async () => {
    const t = await openTunnel(() => Promise.reject(new Error("db task not running")), opts());
    opened.push(t.port);
    const got = await roundTrip(t.port, Buffer.from("x")).catch(() => Buffer.alloc(0));
    expect(got.length).toBe(0);
    const hang = await listen(() => undefined);
    const u = await openTunnel(() => socketPipe(hang), opts());
    opened.push(u.port);
    const c = net.connect({ port: u.port, host: "127.0.0.1" });
    await new Promise((r) => c.on("connect", r));
    const gone = new Promise((r) => c.on("close", r));
    await closeTunnel(u.port);
    await gone;
  });

  it("closes by itself once its owner's session is gone or its time is up", async () => {
    let alive = true;
    const t = await openTunnel(() => Promise.reject(new Error("unused")), opts({ alive: () => alive, checkMs: 50 }));
    opened.push(t.port);
    const past = await openTunnel(() => Promise.reject(new Error("unused")), opts({ until: Date.now() - 1, checkMs: 50 }));
    opened.push(past.port);
    alive = false;
    const deadline = Date.now() + 5_000;
    while ((liveTunnel(t.port) || liveTunnel(past.port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(liveTunnel(t.port)).toBeNull();
    expect(liveTunnel(past.port)).toBeNull();
  });
});
