import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";

/**
 * A Node text stream as a web ReadableStream of whole lines, optionally keeping only lines that
 * contain `q` (a plain substring, never a pattern from input). Aborting the request destroys the
 * source, which ends a followed docker log.
 */
export function lineStream(src: Readable, opts: { q?: string; signal?: AbortSignal } = {}): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  const needle = opts.q ? opts.q.toLowerCase() : "";
  let partial = "";
  const keep = (line: string) => !needle || line.toLowerCase().includes(needle);
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const close = () => {
        try {
          if (partial && keep(partial)) controller.enqueue(enc.encode(`${partial}\n`));
          partial = "";
          controller.close();
        } catch {
          // Already closed by a cancel.
        }
      };
      src.on("data", (chunk: Buffer | string) => {
        partial += chunk.toString();
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        const out = lines.filter(keep);
        if (out.length) {
          try {
            controller.enqueue(enc.encode(`${out.join("\n")}\n`));
          } catch {
            src.destroy();
          }
        }
        // A runaway line without newlines must not grow without bound.
        if (partial.length > 64 * 1024) partial = partial.slice(-64 * 1024);
      });
      src.on("end", close);
      src.on("close", close);
      src.on("error", (e) => {
        try {
          controller.error(e);
        } catch {
          // Nobody is reading any more.
        }
      });
      opts.signal?.addEventListener("abort", () => src.destroy(), { once: true });
    },
    cancel() {
      src.destroy();
    },
  });
}

/** Server-sent events: one writer with keep-alive comments, closed when the client goes. */
export function sseStream(
  signal: AbortSignal,
  setup: (send: (ev: { event?: string; id?: string; data: unknown }) => void, close: () => void) => (() => void) | void,
): Response {
  const enc = new TextEncoder();
  let cleanup: (() => void) | void;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (s: string) => {
        if (closed) return;
        try {
          controller.enqueue(enc.encode(s));
        } catch {
          finish();
        }
      };
      const finish = () => {
        if (closed) return;
        closed = true;
        if (timer) clearInterval(timer);
        cleanup?.();
        try {
          controller.close();
        } catch {
          // Already closed.
        }
      };
      const send = (ev: { event?: string; id?: string; data: unknown }) => {
        let s = "";
        if (ev.id) s += `id: ${ev.id}\n`;
        if (ev.event) s += `event: ${ev.event}\n`;
        s += `data: ${JSON.stringify(ev.data)}\n\n`;
        write(s);
      };
      write("retry: 3000\n\n");
      cleanup = setup(send, finish);
      timer = setInterval(() => write(": keep-alive\n\n"), 15_000);
      signal.addEventListener("abort", finish, { once: true });
    },
    cancel() {
      closed = true;
      if (timer) clearInterval(timer);
      cleanup?.();
    },
  });
  return new Response(stream, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store, no-transform",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    },
  });
}

/**
 * An export archive on disk as a download: streamed from the file (never read whole), with its
 * size and no compression on the way (clients count progress against it). `closed` runs once the
 * stream closes, sent or broken off, to remove what was packed for this one answer.
 */
export function archiveResponse(file: string, opts: { bytes: number; filename: string; closed: () => void; headers?: Record<string, string> }): Response {
  const stream = fs.createReadStream(file);
  stream.on("close", opts.closed);
  return new Response(Readable.toWeb(stream) as ReadableStream, {
    headers: {
      "content-type": "application/gzip",
      "content-length": String(opts.bytes),
      "cache-control": "no-store, no-transform",
      "content-disposition": `attachment; filename="${opts.filename}"`,
      ...opts.headers,
    },
  });
}

/**
 * `name` packed by `pack` into a folder of its own and sent as the download
 * NAME.moodle-dind.tar.gz; the folder goes once the answer is sent, or at once when packing fails.
 */
export async function packedDownload(name: string, pack: (file: string) => Promise<{ bytes: number }>): Promise<Response> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-dl-"));
  const filename = `${name}.moodle-dind.tar.gz`;
  const drop = () => fs.rmSync(dir, { recursive: true, force: true });
  let bytes: number;
  try {
    ({ bytes } = await pack(path.join(dir, filename)));
  } catch (e) {
    drop();
    throw e;
  }
  // A client counting its download against the size: never let compression drop it.
  return archiveResponse(path.join(dir, filename), { bytes, filename, closed: drop, headers: { "x-mdind-size": String(bytes) } });
}
