import { PassThrough } from "node:stream";
import { route, jsonBody } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { execBodySchema } from "@/edge/http/schemas";
import { execAttach } from "@/lib/exec";
import { containerName } from "@/instances/stack";
import { serviceShellDefaults } from "@/instances/access";
import { readRecord } from "@/instances/store";

/**
 * Run one command (argv straight to the engine's exec API, no shell) in a service's container,
 * without a TTY: `moodle-dind exec --url`. The answer streams NDJSON lines {"stdout":…} /
 * {"stderr":…} and ends with {"exit":N}. Interactive shells stay with the terminal WebSocket.
 */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { service, argv } = await jsonBody(req, execBodySchema);
  await readRecord(name);
  const ex = await execAttach(containerName(name, service), argv, { tty: false, ...serviceShellDefaults(service) });
  // No stdin over HTTP: the process sees it closed at once.
  ex.stream.end();
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (v: object) => controller.enqueue(enc.encode(`${JSON.stringify(v)}\n`));
      const out = new PassThrough();
      const err = new PassThrough();
      out.on("data", (d: Buffer) => send({ stdout: d.toString() }));
      err.on("data", (d: Buffer) => send({ stderr: d.toString() }));
      ex.demux(out, err);
      ex.stream.once("end", () => {
        void ex.exitCode().then((code) => {
          send({ exit: code ?? 1 });
          controller.close();
        });
      });
      ex.stream.once("error", (e) => controller.error(e));
      req.signal.addEventListener("abort", () => ex.stream.destroy());
    },
    cancel() {
      ex.stream.destroy();
    },
  });
  return new Response(body, { headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" } });
});
