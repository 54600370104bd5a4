import { listenMailCatcher, smtpPort } from "./server";

/**
 * The mail catcher as its own process (supervisord program "mail" in the DinD host). Structured
 * one-line JSON logs, like the dashboard's.
 */
function log(event: string, fields: Record<string, unknown> = {}) {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`);
}

const host = process.env.MDIND_SMTP_HOST ?? "0.0.0.0";
const catcher = await listenMailCatcher({ port: smtpPort(), host, log }).catch((e: unknown) => {
  log("mail_listen_failed", { error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
log("mail_listening", { host, port: catcher.port });

const stop = () => {
  log("mail_shutdown");
  catcher.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
