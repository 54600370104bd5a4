import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import { readRegistry } from "../allocation";
import { nFromAddress } from "../../networks/subnets";
import { mailLimits, storeMessage, UNKNOWN_BOX, type MailSummary } from "./store";

/**
 * The mail catcher: an SMTP server that accepts every message and delivers none. The sender's
 * address says which instance it is (172.20.N.x → the instance holding N in the allocation
 * registry); anything else lands in "_unknown". Only loopback and Docker's private 172.16/12 range
 * may connect, so binding 0.0.0.0 (needed to be reachable from every instance gateway) does not
 * turn a developer's machine into an open mail sink for its LAN.
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
    // No certificates, no accounts: instances talk to us in plain SMTP; AUTH, if a site sends it, is accepted as-is.
    disabledCommands: ["STARTTLS"],
    authOptional: true,
    allowInsecureAuth: true,
    onAuth: (_auth, _session, cb) => cb(null, { user: "catcher" }),
    size: limits.message,
    maxClients: 50,
    socketTimeout: 60_000,
    logger: false,
    onConnect(session: SMTPServerSession, cb) {
      if (clientAllowed(session.remoteAddress)) return cb();
      log("mail_refused", { remote: session.remoteAddress });
      const err = new Error("connections are accepted from instance networks only") as Error & { responseCode?: number };
      err.responseCode = 554;
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
          const box = await boxForAddress(session.remoteAddress);
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
