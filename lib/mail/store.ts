import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { simpleParser, type AddressObject, type ParsedMail } from "mailparser";
import { paths } from "../config";
import { NotFoundError, ValidationError } from "../errors";
import { readJson, withFileLock, writeFileAtomic } from "../lock";
import { NAME_RE } from "../names";

/**
 * Caught mail on disk: paths.mail()/<box>/<id>.eml plus <box>/index.json (newest first), where a
 * box is an instance name or "_unknown" for senders no instance owns. The SMTP program writes and
 * the dashboard reads and deletes — two processes — so every index change runs under a file lock.
 * Caps (per box and in total) are enforced after each store by deleting the oldest messages.
 */
export const UNKNOWN_BOX = "_unknown";
/** Time-sortable base36 millis + random hex: the only id shape any API accepts. */
export const MAIL_ID_RE = /^[0-9a-z]{8,10}-[0-9a-f]{12}$/;

export interface MailSummary {
  id: string;
  from: string;
  to: string[];
  subject: string;
  /** The Date header, when the message had a valid one. */
  date: string | null;
  receivedAt: string;
  size: number;
  /** Address the SMTP client connected from. */
  remote: string;
  hasHtml: boolean;
  attachments: number;
}

export interface MailAttachmentInfo {
  index: number;
  filename: string;
  contentType: string;
  size: number;
}

export interface MailMessage extends MailSummary {
  html: string | null;
  text: string | null;
  headers: { key: string; value: string }[];
  attachmentList: MailAttachmentInfo[];
}

export interface MailLimits {
  /** Bytes of .eml kept per box before the oldest are pruned. */
  perBox: number;
  /** Bytes kept over all boxes. */
  total: number;
  /** Largest single message accepted (SMTP SIZE). */
  message: number;
}

function mbEnv(name: string, defMb: number): number {
  const v = Number.parseFloat(process.env[name] ?? "");
  return Math.round((Number.isFinite(v) && v > 0 ? v : defMb) * 1024 * 1024);
}

export function mailLimits(): MailLimits {
  return {
    perBox: mbEnv("MDIND_MAIL_MAX_MB_PER_INSTANCE", 50),
    total: mbEnv("MDIND_MAIL_MAX_MB_TOTAL", 500),
    message: mbEnv("MDIND_MAIL_MAX_MESSAGE_MB", 25),
  };
}

/** A box name from outside (route param, registry): an instance name or "_unknown", nothing else. */
export function validateBox(box: unknown): string {
  if (box === UNKNOWN_BOX) return box;
  if (typeof box === "string" && box.length <= 32 && NAME_RE.test(box)) return box;
  throw new ValidationError("mailbox: an instance name or _unknown", "name");
}

export function validateMailId(id: unknown): string {
  if (typeof id === "string" && MAIL_ID_RE.test(id)) return id;
  throw new ValidationError("mail id is malformed", "id");
}

const boxDir = (box: string) => path.join(paths.mail(), validateBox(box));
const indexFile = (box: string) => path.join(boxDir(box), "index.json");
const emlFile = (box: string, id: string) => path.join(boxDir(box), `${validateMailId(id)}.eml`);
const lockFile = () => path.join(paths.mail(), ".lock");

interface Index {
  version: 1;
  messages: MailSummary[];
}

async function readIndex(box: string): Promise<Index> {
  const idx = await readJson<Index>(indexFile(box), { version: 1, messages: [] });
  return Array.isArray(idx.messages) ? idx : { version: 1, messages: [] };
}

function writeIndex(box: string, idx: Index): Promise<void> {
  return writeFileAtomic(indexFile(box), JSON.stringify(idx), 0o600);
}

/** One lock for the whole mail tree: stores are rare and global pruning touches every box. */
function locked<T>(fn: () => Promise<T>): Promise<T> {
  return withFileLock(lockFile(), fn);
}

export function newMailId(now = Date.now()): string {
  return `${now.toString(36).padStart(9, "0")}-${randomBytes(6).toString("hex")}`;
}

function addressList(a: AddressObject | AddressObject[] | undefined): string[] {
  if (!a) return [];
  const list = Array.isArray(a) ? a : [a];
  return list.flatMap((x) => x.value.map((v) => v.address ?? v.name ?? "")).filter(Boolean);
}

function summaryOf(id: string, parsed: ParsedMail, raw: Buffer, envelope: { from?: string; to: string[] }, remote: string): MailSummary {
  const from = addressList(parsed.from)[0] ?? envelope.from ?? "";
  const to = addressList(parsed.to);
  return {
    id,
    from: from.slice(0, 320),
    to: (to.length ? to : envelope.to).slice(0, 50).map((t) => t.slice(0, 320)),
    subject: (parsed.subject ?? "").slice(0, 500),
    date: parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date.toISOString() : null,
    receivedAt: new Date().toISOString(),
    size: raw.length,
    remote,
    hasHtml: typeof parsed.html === "string" && parsed.html.length > 0,
    attachments: parsed.attachments.length,
  };
}

/** Sizes of every box's messages, oldest first overall (ids sort by time). */
async function allMessages(): Promise<{ box: string; id: string; size: number }[]> {
  const boxes = await fs.readdir(paths.mail()).catch(() => [] as string[]);
  const out: { box: string; id: string; size: number }[] = [];
  for (const b of boxes) {
    if (b.startsWith(".")) continue;
    let box: string;
    try {
      box = validateBox(b);
    } catch {
      continue;
    }
    for (const m of (await readIndex(box)).messages) out.push({ box, id: m.id, size: m.size });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function removeFromBox(box: string, ids: Set<string>): Promise<void> {
  if (ids.size === 0) return;
  const idx = await readIndex(box);
  idx.messages = idx.messages.filter((m) => !ids.has(m.id));
  await writeIndex(box, idx);
  for (const id of ids) await fs.rm(emlFile(box, id), { force: true });
}

/** Delete the oldest messages until the box and the whole store are under their caps. */
async function prune(box: string, limits: MailLimits): Promise<number> {
  let pruned = 0;
  const idx = await readIndex(box);
  let used = idx.messages.reduce((s, m) => s + m.size, 0);
  const drop = new Set<string>();
  for (const m of [...idx.messages].reverse()) {
    if (used <= limits.perBox) break;
    drop.add(m.id);
    used -= m.size;
  }
  await removeFromBox(box, drop);
  pruned += drop.size;

  const all = await allMessages();
  let total = all.reduce((s, m) => s + m.size, 0);
  const byBox = new Map<string, Set<string>>();
  for (const m of all) {
    if (total <= limits.total) break;
    if (!byBox.has(m.box)) byBox.set(m.box, new Set());
    byBox.get(m.box)!.add(m.id);
    total -= m.size;
  }
  for (const [b, ids] of byBox) {
    await removeFromBox(b, ids);
    pruned += ids.size;
  }
  return pruned;
}

/** Store one received message; returns its summary and how many old messages were pruned for room. */
export async function storeMessage(
  box: string,
  raw: Buffer,
  envelope: { from?: string; to: string[] },
  remote: string,
  limits = mailLimits(),
): Promise<{ summary: MailSummary; pruned: number }> {
  validateBox(box);
  const parsed = await simpleParser(raw);
  return locked(async () => {
    const id = newMailId();
    await fs.mkdir(boxDir(box), { recursive: true, mode: 0o700 });
    await fs.writeFile(emlFile(box, id), raw, { mode: 0o600 });
    const summary = summaryOf(id, parsed, raw, envelope, remote);
    const idx = await readIndex(box);
    idx.messages.unshift(summary);
    await writeIndex(box, idx);
    const pruned = await prune(box, limits);
    return { summary, pruned };
  });
}

export async function listMail(box: string, opts: { limit?: number; offset?: number } = {}): Promise<{ total: number; messages: MailSummary[] }> {
  const idx = await readIndex(validateBox(box));
  const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 100), 1), 500);
  const offset = Math.min(Math.max(Math.trunc(opts.offset ?? 0), 0), 1_000_000);
  return { total: idx.messages.length, messages: idx.messages.slice(offset, offset + limit) };
}

async function loadParsed(box: string, id: string): Promise<{ summary: MailSummary; parsed: ParsedMail }> {
  validateBox(box);
  validateMailId(id);
  const summary = (await readIndex(box)).messages.find((m) => m.id === id);
  if (!summary) throw new NotFoundError(`no mail ${id} in ${box}`);
  let raw: Buffer;
  try {
    raw = await fs.readFile(emlFile(box, id));
  } catch {
    throw new NotFoundError(`no mail ${id} in ${box}`);
  }
  return { summary, parsed: await simpleParser(raw) };
}

function headerValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === "object" && "text" in v && typeof (v as { text: unknown }).text === "string") return (v as { text: string }).text;
  if (v && typeof v === "object" && "value" in v) return String((v as { value: unknown }).value);
  return JSON.stringify(v);
}

export async function readMail(box: string, id: string): Promise<MailMessage> {
  const { summary, parsed } = await loadParsed(box, id);
  return {
    ...summary,
    html: typeof parsed.html === "string" ? parsed.html : null,
    text: parsed.text ?? null,
    headers: parsed.headerLines.map((h) => {
      const i = h.line.indexOf(":");
      return { key: h.key, value: i >= 0 ? h.line.slice(i + 1).trim() : headerValue(parsed.headers.get(h.key)) };
    }),
    attachmentList: parsed.attachments.map((a, index) => ({
      index,
      filename: a.filename ?? `attachment-${index + 1}`,
      contentType: a.contentType,
      size: a.size,
    })),
  };
}

export async function readAttachment(
  box: string,
  id: string,
  index: number,
): Promise<{ filename: string; contentType: string; content: Buffer }> {
  if (!Number.isInteger(index) || index < 0 || index > 1000) throw new ValidationError("attachment index out of range", "index");
  const { parsed } = await loadParsed(box, id);
  const a = parsed.attachments[index];
  if (!a) throw new NotFoundError(`mail ${id} has no attachment ${index}`);
  return { filename: a.filename ?? `attachment-${index + 1}`, contentType: a.contentType || "application/octet-stream", content: a.content };
}

/** The raw message, for "download .eml". */
export async function readRaw(box: string, id: string): Promise<Buffer> {
  await loadParsed(box, id);
  return fs.readFile(emlFile(box, id));
}

export async function deleteMail(box: string, id: string): Promise<void> {
  validateBox(box);
  validateMailId(id);
  await locked(async () => {
    const idx = await readIndex(box);
    if (!idx.messages.some((m) => m.id === id)) throw new NotFoundError(`no mail ${id} in ${box}`);
    await removeFromBox(box, new Set([id]));
  });
}

/** Empty a box (the instance's "delete all"); also what removing an instance should call. */
export async function deleteMailbox(box: string): Promise<number> {
  validateBox(box);
  return locked(async () => {
    const n = (await readIndex(box)).messages.length;
    await fs.rm(boxDir(box), { recursive: true, force: true });
    return n;
  });
}
