import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { forwardCmd } from "../../lib/cluster/exec-pipe";
import type { Pipe } from "../../lib/net/pump";

/** Connect to 127.0.0.1:`port`, send `data`, half-close, and collect everything until the server ends. */
export function roundTrip(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => c.end(data));
    c.on("data", (d: Buffer) => chunks.push(d));
    c.on("end", () => resolve(Buffer.concat(chunks)));
    c.on("error", reject);
  });
}

/** Docker's exec framing: an 8-byte header (stream type, three zeros, big-endian length), then the payload. */
export function execFrame(kind: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = kind;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Whether this machine has the perl modules the db task's forwarder uses. */
export const hasPerl = spawnSync("perl", ["-MIO::Socket::INET", "-MIO::Select", "-e", "1"]).status === 0;

/** The forwarder the db task's exec runs, as a local child process to 127.0.0.1:`port`: its stdin/stdout are the pipe. */
export function perlPipe(port: number): Promise<Pipe> {
  const [cmd, ...args] = forwardCmd(port);
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "ignore"] });
  return Promise.resolve({ input: child.stdin, output: child.stdout, close: () => child.kill("SIGKILL") });
}
