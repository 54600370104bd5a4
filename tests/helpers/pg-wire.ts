import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import net from "node:net";

/**
 * Just enough of PostgreSQL's wire protocol (v3) for a drill to log in and run one simple query
 * through a TCP port, with no client library in the project: startup, SCRAM-SHA-256 (or MD5, or
 * trust), a simple Query, the rows as text. For tests only.
 */
export interface PgLogin {
  port: number;
  host?: string;
  user: string;
  database: string;
  password: string;
}

/** SCRAM-SHA-256 (RFC 5802/7677): the client-final message and the server signature it expects. */
export function scramFinal(password: string, clientFirstBare: string, serverFirst: string): { clientFinal: string; serverSignature: string } {
  const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s, "base64"), Number(attrs.i), 32, "sha256");
  const hmac = (key: Buffer, s: string) => createHmac("sha256", key).update(s).digest();
  const clientKey = hmac(salted, "Client Key");
  const withoutProof = `c=biws,r=${attrs.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = hmac(createHash("sha256").update(clientKey).digest(), authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
  return {
    clientFinal: `${withoutProof},p=${proof.toString("base64")}`,
    serverSignature: hmac(hmac(salted, "Server Key"), authMessage).toString("base64"),
  };
}

const msg = (type: string, body: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from(type), len, body]);
};
const cstr = (s: string) => Buffer.from(`${s}\0`);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** Messages as they arrive: [type, body]. */
async function* messages(sock: net.Socket): AsyncGenerator<[string, Buffer]> {
  let buf = Buffer.alloc(0);
  for await (const chunk of sock) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    while (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
      const end = 1 + buf.readInt32BE(1);
      yield [String.fromCharCode(buf[0]), buf.subarray(5, end)];
      buf = buf.subarray(end);
    }
  }
}

function pgError(body: Buffer): Error {
  const fields = Object.fromEntries(body.toString("utf8").split("\0").filter(Boolean).map((f) => [f[0], f.slice(1)]));
  return new Error(`postgres: ${fields.S ?? "ERROR"} ${fields.C ?? ""} ${fields.M ?? ""}`.trim());
}

/** Log in and run one simple query; every row as its columns' text (null for NULL). */
export async function pgQuery(login: PgLogin, sql: string): Promise<(string | null)[][]> {
  const sock = net.connect({ port: login.port, host: login.host ?? "127.0.0.1" });
  await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
  try {
    const params = Buffer.concat([cstr("user"), cstr(login.user), cstr("database"), cstr(login.database), Buffer.from([0])]);
    const startup = Buffer.concat([int32(8 + params.length), int32(196608), params]);
    sock.write(startup);
    const nonce = randomBytes(18).toString("base64");
    const clientFirstBare = `n=,r=${nonce}`;
    let expected = "";
    const rows: (string | null)[][] = [];
    let queried = false;
    let finished = false;
    for await (const [type, body] of messages(sock)) {
      if (type === "E") throw pgError(body);
      if (type === "R") {
        const code = body.readInt32BE(0);
        if (code === 10) {
          const first = Buffer.from(`n,,${clientFirstBare}`);
          sock.write(msg("p", Buffer.concat([cstr("SCRAM-SHA-256"), int32(first.length), first])));
        } else if (code === 11) {
          const f = scramFinal(login.password, clientFirstBare, body.subarray(4).toString("utf8"));
          expected = f.serverSignature;
          sock.write(msg("p", Buffer.from(f.clientFinal)));
        } else if (code === 12) {
          const v = Buffer.from(body.subarray(4).toString("utf8").replace(/^v=/, ""));
          if (v.length !== Buffer.from(expected).length || !timingSafeEqual(v, Buffer.from(expected))) throw new Error("postgres: the server's SCRAM signature is wrong");
        } else if (code === 5) {
          const inner = createHash("md5").update(login.password + login.user).digest("hex");
          sock.write(msg("p", cstr(`md5${createHash("md5").update(inner).update(body.subarray(4, 8)).digest("hex")}`)));
        } else if (code === 3) {
          sock.write(msg("p", cstr(login.password)));
        } else if (code !== 0) {
          throw new Error(`postgres: authentication method ${code} not supported here`);
        }
      } else if (type === "D") {
        const row: (string | null)[] = [];
        let at = 2;
        for (let i = body.readInt16BE(0); i > 0; i--) {
          const len = body.readInt32BE(at);
          at += 4;
          row.push(len < 0 ? null : body.subarray(at, at + len).toString("utf8"));
          at += Math.max(len, 0);
        }
        rows.push(row);
      } else if (type === "Z") {
        if (queried) {
          finished = true;
          break;
        }
        queried = true;
        sock.write(msg("Q", cstr(sql)));
      }
    }
    if (!finished) throw new Error("postgres: the connection ended before the query's answer");
    sock.end(msg("X", Buffer.alloc(0)));
    return rows;
  } finally {
    sock.destroySoon();
  }
}
