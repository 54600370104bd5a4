import fs from "node:fs";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { OpEvent } from "../../lib/operations";

/**
 * Files over HTTP for the remote CLI: uploads (import, moodle add) and downloads (export) are
 * streamed, never read into memory, with a progress line at most once a second on the same
 * callback the operations use (so it lands on stderr and --json stays clean).
 */
const mib = (n: number) => (n / 1024 ** 2).toFixed(1);

/** A pass-through counting bytes; `say` gets "sent 12.0 of 80.0 MiB (15 %), 9.8 MiB/s". */
export function meter(total: number, verb: string, say: (line: string) => void): Transform {
  let seen = 0;
  let last = Date.now();
  const started = last;
  const report = () => {
    const rate = seen / Math.max((Date.now() - started) / 1000, 0.001);
    const of = total > 0 ? ` of ${mib(total)} MiB (${Math.floor((seen / total) * 100)} %)` : " MiB";
    say(`${verb} ${mib(seen)}${of}, ${mib(rate)} MiB/s`);
  };
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      seen += chunk.length;
      if (Date.now() - last >= 1000) {
        last = Date.now();
        report();
      }
      cb(null, chunk);
    },
    // The last line always comes, however short the transfer.
    flush(cb: TransformCallback) {
      report();
      cb();
    },
  });
}

/** A log event for progress that is not part of a server operation. */
export function sayer(instance: string, op: string, onEvent: (ev: OpEvent) => void) {
  return (message: string) => onEvent({ seq: 0, ts: new Date().toISOString(), opId: "", instance, op, type: "log", message });
}

/** A file as a web stream through a meter, for fetch's body. */
export function uploadStream(file: string, size: number, say: (line: string) => void): ReadableStream<Uint8Array> {
  return Readable.toWeb(fs.createReadStream(file).pipe(meter(size, "sent", say))) as ReadableStream<Uint8Array>;
}

/** A response body to a file (0600, replaced only when complete), with progress; returns the bytes written. */
export async function download(body: ReadableStream<Uint8Array>, total: number, file: string, say: (line: string) => void): Promise<number> {
  const part = `${file}.part`;
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(body as never), meter(total, "received", say), count, fs.createWriteStream(part, { mode: 0o600 }));
    await fs.promises.rename(part, file);
  } catch (e) {
    await fs.promises.rm(part, { force: true });
    throw e;
  }
  return bytes;
}
