import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeTunnel, openTunnel } from "../../services/cluster/dbtunnel";
import { pgQuery, scramFinal } from "../helpers/pg-wire";
import { hasPerl, perlPipe } from "../helpers/tcp";

/**
 * The drills' small PostgreSQL client (tests/helpers/pg-wire.ts): SCRAM pinned to RFC 7677's
 * example, and the protocol against a local stand-in server that authenticates with SCRAM and
 * answers one query.
 */
describe("SCRAM-SHA-256", () => {
  // The client proof is the RFC's as printed; its printed server signature is the subject of an
  // erratum, and this is the corrected value.
  it("gives RFC 7677's client proof and server signature", () => {
    const f = scramFinal("pencil", "n=user,r=rOprNGfwEbeRWgbNEkqO", "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    expect(f.clientFinal).toBe("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    expect(f.serverSignature).toBe("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  });
});

const PASSWORD = "s3cr3t";
let server: net.Server;
let port = 0;
const seen: { startup: string; query: string } = { startup: "", query: "" };

function out(type: string, body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from(type), len, body]);
}
const auth = (code: number, rest = "") => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(code);
  return out("R", Buffer.concat([b, Buffer.from(rest)]));
};

/** A stand-in server: SCRAM with PASSWORD, then one DataRow ("moodle", NULL) for any query. */
function standIn(sock: net.Socket): void {
  let buf = Buffer.alloc(0);
  let started = false;
  let first = "";
  let serverFirst = "";
  sock.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (!started) {
      if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return;
      seen.startup = buf.subarray(8, buf.readInt32BE(0)).toString("utf8");
      buf = buf.subarray(buf.readInt32BE(0));
      started = true;
      sock.write(auth(10, "SCRAM-SHA-256\0\0"));
    }
    while (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
      const type = String.fromCharCode(buf[0]);
      const body = buf.subarray(5, 1 + buf.readInt32BE(1));
      buf = buf.subarray(1 + buf.readInt32BE(1));
      if (type === "p" && !first) {
        first = body.subarray(body.indexOf(0) + 5).toString("utf8").replace(/^n,,/, "");
        serverFirst = `r=${first.split("r=")[1]}srv,s=${Buffer.from("salt").toString("base64")},i=4096`;
        sock.write(auth(11, serverFirst));
      } else if (type === "p") {
        const want = scramFinal(PASSWORD, first, serverFirst);
        if (body.toString("utf8") !== want.clientFinal) {
          sock.end(out("E", Buffer.from("SFATAL\0C28P01\0Mpassword authentication failed\0\0")));
          return;
        }
        sock.write(Buffer.concat([auth(12, `v=${want.serverSignature}`), auth(0), out("Z", Buffer.from("I"))]));
      } else if (type === "Q") {
        seen.query = body.toString("utf8").replace(/\0$/, "");
        const row = Buffer.from([0, 2, 0, 0, 0, 6, ...Buffer.from("moodle"), 255, 255, 255, 255]);
        sock.write(Buffer.concat([out("D", row), out("C", Buffer.from("SELECT 1\0")), out("Z", Buffer.from("I"))]));
      } else if (type === "X") {
        sock.end();
      }
    }
  });
}

beforeAll(async () => {
  server = net.createServer(standIn);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe("pgQuery", () => {
  it("logs in with SCRAM and reads the rows of one query", async () => {
    const rows = await pgQuery({ port, user: "moodle", database: "moodle", password: PASSWORD }, "select current_user, null");
    expect(rows).toEqual([["moodle", null]]);
    expect(seen.startup).toBe("user\0moodle\0database\0moodle\0\0");
    expect(seen.query).toBe("select current_user, null");
  });

  it("fails with the server's error on a wrong password", async () => {
    await expect(pgQuery({ port, user: "moodle", database: "moodle", password: "wrong" }, "select 1")).rejects.toThrow(/28P01 password authentication failed/);
  });
});

describe.runIf(hasPerl)("pgQuery through a DB admin tunnel and the db task's forwarder", () => {
  it("logs in and reads the rows as it does directly", async () => {
    const t = await openTunnel(() => perlPipe(port), { instance: "cl1", owner: "session:a", until: Date.now() + 60_000 });
    try {
      const rows = await pgQuery({ port: t.port, user: "moodle", database: "moodle", password: PASSWORD }, "select through the tunnel");
      expect(rows).toEqual([["moodle", null]]);
      expect(seen.query).toBe("select through the tunnel");
    } finally {
      await closeTunnel(t.port);
    }
  });
});
