import { AppError } from "./errors";

/**
 * Request bodies read whole into memory, with a cap enforced while reading: a chunked body carries
 * no Content-Length, so checking the size after `req.text()` would let a client make the server
 * buffer any amount first. Reading stops (and the stream is cancelled) at the first byte past it.
 */
export class BodyTooLargeError extends AppError {
  /** The same mark lib/moodle's upload error carries, so every edge answers both with 413. */
  readonly tooLarge = true;
  constructor(max: number) {
    super("validation", `request body too large (the limit is ${max} bytes)`, { field: "body", status: 413 });
    this.name = "BodyTooLargeError";
  }
}

/** At most `max` bytes of `body`; throws BodyTooLargeError as soon as there would be more. */
export async function readCapped(body: ReadableStream<Uint8Array> | null, max: number, declaredLength?: string | null): Promise<Buffer> {
  const declared = declaredLength ? Number(declaredLength) : 0;
  if (Number.isFinite(declared) && declared > max) {
    await body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(max);
  }
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(max);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/** The same, from a Request (its Content-Length, when sent, refuses early). */
export function readRequestCapped(req: Request, max: number): Promise<Buffer> {
  return readCapped(req.body, max, req.headers.get("content-length"));
}
