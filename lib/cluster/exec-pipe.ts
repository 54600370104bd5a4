import { Transform, type Duplex, type TransformCallback } from "node:stream";
import { engineError } from "../errors";
import type { Pipe } from "../net/pump";
import type { Engine } from "./swarm";

/**
 * Docker's multiplexed exec output (Tty false) as the stdout bytes alone: each frame is an 8-byte
 * header (stream 1 stdout, 2 stderr; big-endian length at 4) and its payload. A Transform rather
 * than the modem's demuxStream, which writes on without waiting: piped, a slow reader here holds
 * the engine's connection back instead of growing a buffer.
 */
export class ExecDemux extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onStderr?: (chunk: Buffer) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const kind = this.buf[0];
      const len = this.buf.readUInt32BE(4);
      if (kind > 2) return done(new Error(`not a multiplexed exec stream (frame type ${kind})`));
      if (this.buf.length < 8 + len) break;
      const payload = this.buf.subarray(8, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      if (kind === 2) this.onStderr?.(payload);
      else if (kind === 1 && len) this.push(payload);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    done(this.buf.length ? new Error("exec stream ended inside a frame") : null);
  }
}

/**
 * A process in a container as a byte pipe, through the engine's exec API: stdin is the hijacked
 * connection itself (raw bytes; no framing without a TTY), stdout is demultiplexed out of Docker's
 * frame headers, stderr goes to `onStderr`. Tty stays false: a TTY would translate bytes (CR/LF,
 * ^C) and merge stderr into the data.
 */
export async function execPipe(
  engine: Pick<Engine, "getContainer">,
  container: string,
  cmd: string[],
  opts: { user?: string; onStderr?: (chunk: Buffer) => void } = {},
): Promise<Pipe> {
  let stream: Duplex;
  try {
    const exec = await engine.getContainer(container).exec({ Cmd: cmd, User: opts.user, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: false });
    stream = (await exec.start({ hijack: true, stdin: true })) as Duplex;
  } catch (e) {
    throw engineError(`exec in ${container}`, e);
  }
  const output = new ExecDemux(opts.onStderr);
  stream.pipe(output);
  // A connection dropped without an end is no clean end of the output.
  let closing = false;
  stream.on("close", () => {
    if (closing) output.destroy();
    else if (!stream.readableEnded) output.destroy(new Error("exec connection closed"));
  });
  stream.on("error", (e) => output.destroy(closing ? undefined : e));
  // Closed by us (the client went): the output just ends, it did not fail.
  const close = () => {
    closing = true;
    stream.destroy();
  };
  return { input: stream, output, close };
}

/**
 * A forwarder to 127.0.0.1:PORT inside the container, between its stdin/stdout and one TCP
 * connection. Perl because perl-base is Essential in every Debian the db images are built on
 * (bullseye, bookworm, trixie) and has IO::Socket::INET; bash's /dev/tcp cannot half-close, and
 * neither socat nor nc is in the images. The script is a constant and the port is the argument:
 * nothing from a request reaches the command line. Its stdin's end becomes the socket's FIN; the
 * database's close ends it.
 */
export const FORWARD_SCRIPT = [
  "use strict; use IO::Socket::INET; use IO::Select;",
  'my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0], Proto => "tcp") or die "forward: connect 127.0.0.1:$ARGV[0]: $!\\n";',
  "binmode STDIN; binmode STDOUT; $SIG{PIPE} = 'IGNORE';",
  'sub put { my ($fh, $b) = @_; while (length $b) { my $w = syswrite($fh, $b); die "forward: write: $!\\n" unless defined $w; substr($b, 0, $w) = ""; } }',
  "my $sel = IO::Select->new(\\*STDIN, $s);",
  "while ($sel->count) {",
  "  for my $fh ($sel->can_read) {",
  '    my $n = sysread($fh, my $b, 65536); die "forward: read: $!\\n" unless defined $n;',
  "    if (fileno($fh) == fileno($s)) { exit 0 unless $n; put(\\*STDOUT, $b); }",
  "    elsif ($n) { put($s, $b); }",
  "    else { $sel->remove(\\*STDIN); shutdown($s, 1); }",
  "  }",
  "}",
].join("\n");

export function forwardCmd(port: number): string[] {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`not a port: ${port}`);
  return ["perl", "-e", FORWARD_SCRIPT, String(port)];
}
