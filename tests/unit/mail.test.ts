import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** A minimal SMTP client: the catcher must work with any plain client, as PHP's socket code is. */
async function smtpSend(port: number, from: string, to: string, data: string, login?: { user: string; pass: string }): Promise<string[]> {
  const sock = net.connect(port, "127.0.0.1");
  const replies: string[] = [];
  let buf = "";
  const waiters: ((l: string) => void)[] = [];
  sock.setEncoding("utf8");
  sock.on("data", (c: string) => {
    buf += c;
    let i: number;
    while ((i = buf.indexOf("\r\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      // Multi-line replies ("250-…") end with a "250 " line.
      if (/^\d{3} /.test(line)) {
        replies.push(line);
        waiters.shift()?.(line);
      }
    }
  });
  const next = () => new Promise<string>((r) => waiters.push(r));
  const cmd = async (l: string) => {
    const p = next();
    sock.write(`${l}\r\n`);
    return p;
  };
  await next();
  await cmd("EHLO test");
  // AUTH PLAIN, as PHPMailer sends it when $CFG->smtpuser is set.
  if (login && !(await cmd(`AUTH PLAIN ${Buffer.from(`\0${login.user}\0${login.pass}`).toString("base64")}`)).startsWith("235")) {
    sock.end();
    return replies;
  }
  await cmd(`MAIL FROM:<${from}>`);
  await cmd(`RCPT TO:<${to}>`);
  await cmd("DATA");
  await cmd(`${data.replace(/\n/g, "\r\n")}\r\n.`);
  await cmd("QUIT");
  sock.end();
  return replies;
}

const home = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-mail-"));
process.env.MDIND_HOME = home;
const store = await import("../../lib/mail/store");
const server = await import("../../lib/mail/server");
const auth = await import("../../lib/mail/auth");

describe("mail catcher", () => {
  let catcher: { port: number; close: () => Promise<void> };
  beforeAll(async () => {
    catcher = await server.listenMailCatcher({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await catcher.close();
    await fs.rm(home, { recursive: true, force: true });
  });

  it("catches a multipart message with an attachment into _unknown (loopback sender)", async () => {
    const msg = [
      "From: Site <noreply@site.test>",
      "To: someone@x.test",
      "Subject: Hello there",
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="B"',
      "",
      "--B",
      "Content-Type: text/html; charset=utf-8",
      "",
      "<p>Hi <b>you</b></p>",
      "--B",
      'Content-Type: text/plain; name="notes.txt"',
      'Content-Disposition: attachment; filename="notes.txt"',
      "Content-Transfer-Encoding: base64",
      "",
      Buffer.from("attached text").toString("base64"),
      "--B--",
    ].join("\n");
    const replies = await smtpSend(catcher.port, "noreply@site.test", "someone@x.test", msg);
    expect(replies.find((r) => r.startsWith("250 ") && /caught as/.test(r))).toBeTruthy();

    const list = await store.listMail("_unknown");
    expect(list.total).toBe(1);
    const m = list.messages[0];
    expect(m.subject).toBe("Hello there");
    expect(m.to).toEqual(["someone@x.test"]);
    expect(m.attachments).toBe(1);
    expect(m.id).toMatch(store.MAIL_ID_RE);

    const full = await store.readMail("_unknown", m.id);
    expect(full.html).toContain("<b>you</b>");
    expect(full.headers.find((h) => h.key === "subject")?.value).toBe("Hello there");
    expect(full.attachmentList[0]).toMatchObject({ index: 0, filename: "notes.txt" });
    const att = await store.readAttachment("_unknown", m.id, 0);
    expect(att.content.toString()).toBe("attached text");

    await store.deleteMail("_unknown", m.id);
    expect((await store.listMail("_unknown")).total).toBe(0);
    await expect(store.readMail("_unknown", m.id)).rejects.toMatchObject({ kind: "not_found" });
  });

  it("files a logged-in instance's mail under its own name, whatever its address (a cluster node's NAT)", async () => {
    const pass = await auth.mailPassword("far-1");
    const replies = await smtpSend(catcher.port, "noreply@far-1.test", "t@x.test", "Subject: from a node\n\nhi", { user: "far-1", pass });
    expect(replies.some((r) => r.startsWith("235"))).toBe(true);
    expect(replies.find((r) => /caught as/.test(r))).toBeTruthy();
    expect((await store.listMail("far-1")).messages[0]?.subject).toBe("from a node");
    expect((await store.listMail("_unknown")).total).toBe(0);
  });

  it("refuses a login that is not an instance's own: wrong password, another's, hostile names", async () => {
    const other = await auth.mailPassword("far-2");
    for (const [user, pass] of [["far-1", other], ["far-1", ""], ["../x", other], ["far-1\0", other], ["x".repeat(200), "y"], ["far-1", "a".repeat(5000)]]) {
      const replies = await smtpSend(catcher.port, "a@b.test", "t@x.test", "Subject: no\n\nno", { user, pass });
      // 535 for a wrong login; smtp-server answers a malformed one (empty password) with another 5xx.
      expect(replies.some((r) => /^5\d\d /.test(r)) && !replies.some((r) => r.startsWith("235")), `${user.slice(0, 20)}`).toBe(true);
      expect(replies.find((r) => /caught as/.test(r))).toBeFalsy();
    }
    expect(await auth.mailLogin("far-2", other)).toBe("far-2");
    expect(await auth.mailLogin({}, other)).toBeNull();
    await expect(auth.mailPassword("Bad Name")).rejects.toThrow();
  });

  it("lets only a logged-in instance send from outside instance networks", () => {
    expect(server.senderAllowed(undefined, "10.213.9.12")).toBe(false);
    expect(server.senderAllowed("", "192.168.1.10")).toBe(false);
    expect(server.senderAllowed("far-1", "10.213.9.12")).toBe(true);
    expect(server.senderAllowed(undefined, "172.20.5.11")).toBe(true);
  });

  it("refuses malformed ids and box names before touching the disk", async () => {
    for (const bad of ["../x", "..", "a/b", "", "x".repeat(40), "1234567890-zz"]) {
      expect(() => store.validateMailId(bad)).toThrow();
    }
    for (const bad of ["../etc", "_other", "A", "", ".lock"]) expect(() => store.validateBox(bad)).toThrow();
    expect(store.validateBox("demo-1")).toBe("demo-1");
  });

  it("allows only loopback and Docker's private range as clients", () => {
    expect(server.clientAllowed("172.20.3.11")).toBe(true);
    expect(server.clientAllowed("::ffff:172.21.0.5")).toBe(true);
    expect(server.clientAllowed("127.0.0.1")).toBe(true);
    expect(server.clientAllowed("192.168.1.10")).toBe(false);
    expect(server.clientAllowed("172.32.0.1")).toBe(false);
    expect(server.clientAllowed("10.0.0.1")).toBe(false);
  });

  it("maps a 172.20.N sender to the instance holding N, else _unknown", async () => {
    await fs.mkdir(path.join(home, "state"), { recursive: true });
    await fs.writeFile(
      path.join(home, "state", "allocations.json"),
      JSON.stringify({ version: 1, instances: { demo: { name: "demo", n: 7, port: 8001, subnet: "172.20.7.0/24", state: "ready", pid: 1, createdAt: "" } } }),
    );
    expect(await server.boxForAddress("172.20.7.11")).toBe("demo");
    expect(await server.boxForAddress("::ffff:172.20.7.13")).toBe("demo");
    expect(await server.boxForAddress("172.20.8.11")).toBe("_unknown");
    expect(await server.boxForAddress("127.0.0.1")).toBe("_unknown");
  });

  it("prunes the oldest messages past the per-box and total caps", async () => {
    const raw = (i: number) => Buffer.from(`Subject: m${i}\r\n\r\n${"x".repeat(1000)}\r\n`);
    const limits = { perBox: 3500, total: 5000, message: 1 << 20 };
    for (let i = 0; i < 5; i++) await store.storeMessage("alpha", raw(i), { to: ["a@x.test"] }, "172.20.1.11", limits);
    const a = await store.listMail("alpha");
    expect(a.messages.map((m) => m.subject)).toEqual(["m4", "m3", "m2"]);
    for (let i = 0; i < 3; i++) await store.storeMessage("beta", raw(10 + i), { to: ["b@x.test"] }, "172.20.2.11", limits);
    const total = (await store.listMail("alpha")).total + (await store.listMail("beta")).total;
    expect(total).toBeLessThanOrEqual(4);
    // The newest message always survives.
    expect((await store.listMail("beta")).messages[0].subject).toBe("m12");
    const files = await fs.readdir(path.join(home, "mail", "alpha"));
    expect(files.filter((f) => f.endsWith(".eml")).length).toBe((await store.listMail("alpha")).total);
    expect(await store.deleteMailbox("alpha")).toBeGreaterThan(0);
  });
});
