import { docker } from "../../lib/docker";
import { engineError } from "../../lib/errors";
import { containerName, type Service } from "../../instances/stack";
import { serviceShellDefaults } from "../../instances/access";

/** `moodle-dind exec`: argv straight to the engine's exec API, with a TTY when we have one. */
export async function execInteractive(name: string, service: Service, argv: string[]): Promise<number> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const defaults = serviceShellDefaults(service);
  const c = docker().getContainer(containerName(name, service));
  let exec;
  try {
    exec = await c.exec({
      Cmd: argv,
      User: defaults.user,
      WorkingDir: defaults.workdir,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: tty,
    });
  } catch (e) {
    throw engineError(`exec in ${containerName(name, service)}`, e);
  }
  const stream = await exec.start({ hijack: true, stdin: true, Tty: tty });
  if (tty) {
    process.stdin.setRawMode(true);
    stream.pipe(process.stdout);
    const resize = () => exec.resize({ h: process.stdout.rows, w: process.stdout.columns }).catch(() => undefined);
    process.stdout.on("resize", resize);
    resize();
  } else {
    docker().modem.demuxStream(stream, process.stdout, process.stderr);
  }
  process.stdin.pipe(stream);
  await new Promise<void>((resolve) => stream.on("end", resolve));
  if (tty) process.stdin.setRawMode(false);
  process.stdin.unpipe(stream);
  process.stdin.pause();
  const info = await exec.inspect();
  return info.ExitCode ?? 1;
}
