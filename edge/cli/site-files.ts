import fs from "node:fs/promises";
import type { Backend } from "./backend";
import { UsageError } from "./exit";

/**
 * `moodle-dind config …` and `moodle-dind mail …`: the instance page's Config and Mail tabs on the
 * command line, through either backend. Files are named DIR/FILE as the API names them
 * (php-8.2/php.ini); a config file is saved only after the service's own checker accepts it.
 */
type Out = (v: unknown, text: () => string) => void;

function dirFile(arg: string | undefined): [string, string] {
  const m = /^([^/]+)\/([^/]+)$/.exec(arg ?? "");
  // "." and ".." would be resolved away in a URL path: refuse them here, the same for both backends.
  if (!m || [m[1], m[2]].some((s) => s === "." || s === "..")) throw new UsageError("name the file as DIR/FILE, e.g. php-8.2/php.ini (config list shows them)");
  return [m[1], m[2]];
}

export async function configCommand(backend: Backend, args: string[], values: { file?: string }, json: boolean, out: Out): Promise<number> {
  const [sub, name, target] = args;
  if (!name) throw new UsageError("config list|get|set <name> …");
  switch (sub) {
    case "list": {
      const files = await backend.configList(name);
      out(files, () => files.map((f) => `${f.path.padEnd(36)} ${String(f.size).padStart(7)} B  ${f.service}${f.validator ? `  checked by ${f.validator}` : ""}`).join("\n"));
      return 0;
    }
    case "get": {
      const f = await backend.configGet(name, ...dirFile(target));
      if (json) out(f, () => "");
      else process.stdout.write(f.content);
      return 0;
    }
    case "set": {
      const [dir, file] = dirFile(target);
      if (!values.file) throw new UsageError("config set <name> DIR/FILE --file F (the new content)");
      const r = await backend.configSet(name, dir, file, await fs.readFile(values.file, "utf8"));
      out(r, () => `saved ${dir}/${file}${r.validator ? ` (accepted by ${r.validator})` : ""}${r.restartSuggested.length ? `; restart ${r.restartSuggested.join(", ")} to use it: moodle-dind restart ${name}` : ""}`);
      return 0;
    }
    default:
      throw new UsageError("config list|get|set <name> …");
  }
}

export async function mailCommand(backend: Backend, args: string[], values: { yes?: boolean }, json: boolean, out: Out): Promise<number> {
  const [sub, name, id] = args;
  if (!name) throw new UsageError("mail list|show|clear <name> …");
  switch (sub) {
    case "list": {
      const r = await backend.mailList(name);
      out(r, () => (r.messages.length ? r.messages.map((m) => `${m.id}  ${m.receivedAt.slice(0, 19)}  ${m.from.slice(0, 30).padEnd(30)}  ${m.subject}`).join("\n") : "no mail"));
      return 0;
    }
    case "show": {
      if (!id) throw new UsageError("mail show <name> ID (mail list shows the ids)");
      const m = await backend.mailShow(name, id);
      out(m, () => [`From: ${m.from}`, `To: ${m.to.join(", ")}`, `Subject: ${m.subject}`, `Date: ${m.date ?? m.receivedAt}`, ...m.attachmentList.map((a) => `Attachment ${a.index}: ${a.filename} (${a.contentType}, ${a.size} B)`), "", m.text ?? "(no text part; the html part is in --json)"].join("\n"));
      return 0;
    }
    case "clear": {
      if (!values.yes) throw new UsageError("mail clear deletes every caught message of the instance: pass --yes to confirm");
      const deleted = await backend.mailClear(name);
      out({ name, deleted }, () => `${deleted} message(s) deleted`);
      return 0;
    }
    default:
      throw new UsageError("mail list|show|clear <name> …");
  }
}
