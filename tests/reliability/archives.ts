import zlib from "node:zlib";
import { pack } from "tar-stream";

/**
 * Hand-made hostile archives: a minimal ZIP writer (stored or deflated entries, optional Unix
 * symlink mode, optional lying sizes) and tar builders, so each case says exactly what it sends.
 */
export interface ZipEntry {
  name: string;
  data: Buffer | string;
  deflate?: boolean;
  symlink?: boolean;
  /** Claim this uncompressed size in the headers instead of the real one. */
  claimSize?: number;
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

export function zip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const body = e.deflate ? zlib.deflateRawSync(raw, { level: 9 }) : raw;
    const name = Buffer.from(e.name);
    const size = e.claimSize ?? raw.length;
    const crc = crc32(raw);
    const method = e.deflate ? 8 : 0;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(0x0314, 4); // made by Unix, so the external attributes carry a mode
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(((e.symlink ? 0o120777 : 0o100644) << 16) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export interface TarEntry {
  name: string;
  data?: string;
  type?: "file" | "symlink" | "link" | "directory";
  linkname?: string;
}

export async function tar(entries: TarEntry[], gzip = false): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on("end", () => r()));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      e.type && e.type !== "file"
        ? p.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: 0o644 }, (err) => (err ? reject(err) : resolve()))
        : p.entry({ name: e.name, type: "file", mode: 0o644 }, e.data ?? "", (err) => (err ? reject(err) : resolve())),
    );
  }
  p.finalize();
  await done;
  const out = Buffer.concat(chunks);
  return gzip ? zlib.gzipSync(out) : out;
}
