import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import { readRegistry } from "../allocation";
import { nFromAddress } from "../../networks/subnets";
import { mailLogin } from "./auth";
import { mailLimits, storeMessage, UNKNOWN_BOX, type MailSummary } from "./store";

/**
 * The mail catcher: an SMTP server that accepts every message and delivers none. The sender's
 * address says which instance it is (172.20.N.x → the instance holding N in the allocation
 * registry); anything else lands in "_unknown". An instance on another cluster node, which reaches
 * the catcher through its node's NAT, logs in with its own credentials (./auth.ts) and its mail goes
 * to its box. Without a login, only loopback and Docker's private 172.16/12 range may send, so
 * binding 0.0.0.0 (needed to be reachable from every instance gateway and node) does not turn a
 * developer's machine into an open mail sink for its LAN.
 */
export type MailLog = (event: string, fields?: Record<string, unknown>) => void;

export interface MailCatcher {
  port: number;
  close: () => Promise<void>;
}

/** Whether an SMTP client address may talk to the catcher at all. */
export function clientAllowed(address: string): boolean {
  const a = address.replace(/^::ffff:/, "");
  if (a === "127.0.0.1" || a === "::1") return true;
  const m = /^172\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(a);
  return !!m && Number(m[1]) >= 16 && Number(m[1]) <= 31;
}

/** Whether a session may send: a logged-in instance from anywhere, else only instance networks. */
export function senderAllowed(user: unknown, address: string): boolean {
  return (typeof user === "string" && user.length > 0) || clientAllowed(address);
}

/** Which mailbox a client address belongs to. Reads the registry each time: instances come and go. */
export async function boxForAddress(address: string): Promise<string> {
  const n = nFromAddress(address);
  if (n === null) return UNKNOWN_BOX;
  const reg = await readRegistry().catch(() => null);
  const owner = reg && Object.values(reg.instances).find((a) => a.n === n);
  return owner ? owner.name : UNKNOWN_BOX;
}

function collect(stream: SMTPServerDataStream): Promise<{ raw: Buffer; tooBig: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("end", () => resolve({ raw: Buffer.concat(chunks), tooBig: stream.sizeExceeded }));
  });
}

export function listenMailCatcher(
  opts: { port?: number; host?: string; log?: MailLog; onStored?: (box: string, m: MailSummary) => void } = {},
): Promise<MailCatcher> {
  const limits = mailLimits();
  const log = opts.log ?? (() => {});
  const server = new SMTPServer({
    name: "moodle-dind-mail",
    banner: "moodle-dind mail catcher: nothing is delivered",
    // No certificates: instances talk to us in plain SMTP. A login is optional and must be an
    // instance's own (cluster nodes); a wrong one is refused rather than filed under _unknown.
    disabledCommands: ["STARTTLS"],
    authOptional: true,
    allowInsecureAuth: true,
    onAuth: (auth, _session, cb) => {
      mailLogin(auth.username, auth.password)
        .then((user) => {
          if (user) return cb(null, { user });
          log("mail_auth_refused", { user: String(auth.username ?? "").slice(0, 40) });
          cb(new Error("unknown instance or wrong password"));
        })
        .catch((e: unknown) => cb(e as Error));
    },
    size: limits.message,
    maxClients: 50,
    socketTimeout: 60_000,
    logger: false,
    // Anyone may connect (a cluster node's address is not known here), but only instance networks
    // and logged-in instances may send.
    onMailFrom(_address, session: SMTPServerSession, cb) {
      if (senderAllowed(session.user, session.remoteAddress)) return cb();
      log("mail_refused", { remote: session.remoteAddress });
      const err = new Error("log in first: without a login, mail is accepted from instance networks only") as Error & { responseCode?: number };
      err.responseCode = 530;
      return cb(err);
    },
    onData(stream, session, cb) {
      collect(stream)
        .then(async ({ raw, tooBig }) => {
          if (tooBig) {
            const err = new Error(`message exceeds ${limits.message} bytes`) as Error & { responseCode?: number };
            err.responseCode = 552;
            return cb(err);
          }
          const box = typeof session.user === "string" ? session.user : await boxForAddress(session.remoteAddress);
          const envelope = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
            to: session.envelope.rcptTo.map((r) => r.address),
          };
          const { summary, pruned } = await storeMessage(box, raw, envelope, session.remoteAddress, limits);
          log("mail_caught", { box, id: summary.id, size: summary.size, to: summary.to.length, pruned });
          opts.onStored?.(box, summary);
          cb(null, `caught as ${summary.id}`);
        })
        .catch((e: unknown) => {
          log("mail_store_failed", { error: e instanceof Error ? e.message : String(e) });
          const err = new Error("could not store the message") as Error & { responseCode?: number };
          err.responseCode = 451;
          cb(err);
        });
    },
  });
  server.on("error", (e: Error) => log("mail_server_error", { error: e.message }));
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.server.once("error", onError);
    server.listen(opts.port ?? 1025, opts.host ?? "0.0.0.0", () => {
      server.server.off("error", onError);
      const addr = server.server.address();
      resolve({
        port: typeof addr === "object" && addr ? addr.port : (opts.port ?? 1025),
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

export function smtpPort(): number {
  const p = Number.parseInt(process.env.MDIND_SMTP_PORT ?? "1025", 10);
  return Number.isInteger(p) && p > 0 && p < 65536 ? p : 1025;
}

/**
 * For the dashboard process (services/background.ts). In the DinD host the catcher is its own supervisord
 * program (MDIND_MAIL_CATCHER=external), so a dashboard restart never drops mail; there this is a no-op.
 */
export async function startMailCatcher(log?: MailLog): Promise<() => Promise<void>> {
  if (process.env.MDIND_MAIL_CATCHER === "external" || process.env.MDIND_MAIL_CATCHER === "off") return async () => {};
  const c = await listenMailCatcher({ port: smtpPort(), host: process.env.MDIND_SMTP_HOST ?? "0.0.0.0", log });
  return c.close;
}
