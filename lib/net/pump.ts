import type { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";

/**
 * The far end of a byte stream a TCP client is joined to: what goes in, what comes out, and how to
 * stop it. An exec's hijacked connection is one (lib/cluster/exec-pipe.ts); so is a child process
 * or a plain socket, which is how the pump is tested without an engine.
 */
export interface Pipe {
  input: Writable;
  output: Readable;
  close(): void;
}

/**
 * Join a client to a pipe, bytes both ways with backpressure and nothing decoded (binary-safe).
 * Half-close is passed on both ways: the client's FIN ends the pipe's input, the end of the pipe's
 * output ends the client's side, so a protocol that closes one way first still finishes. The
 * client's socket must allow half-open (net.createServer({ allowHalfOpen: true })) for the first.
 * Any error on either side, or the client going away, closes both. Resolves once both are closed.
 */
export function pump(client: Socket, pipe: Pipe): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      pipe.close();
      client.destroy();
      resolve();
    };
    // Listeners first: closing the pipe below can make it emit 'error' (an exec's output does), and
    // an 'error' with no listener would end the process.
    client.on("error", finish);
    pipe.input.on("error", finish);
    pipe.output.on("error", finish);
    // A client that went while its pipe was being opened (an exec takes a round trip) leaves no pipe behind.
    if (client.destroyed) return finish();
    client.on("close", finish);
    pipe.output.on("close", () => {
      // An output that closes without ending (a killed process, a dropped connection) is a failure.
      if (!pipe.output.readableEnded) finish();
    });
    client.pipe(pipe.input);
    pipe.output.pipe(client);
  });
}
