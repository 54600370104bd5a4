import { execAttach } from "../../lib/exec";
import { containerName, type Service } from "../../instances/stack";
import { serviceShellDefaults } from "../../instances/access";

/** `moodle-dind exec`: argv straight to the engine's exec API, with a TTY when we have one. */
export async function execInteractive(name: string, service: Service, argv: string[]): Promise<number> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const defaults = serviceShellDefaults(service);
  const ex = await execAttach(containerName(name, service), argv, { tty, user: defaults.user, workdir: defaults.workdir });
  if (tty) {
    process.stdin.setRawMode(true);
    ex.stream.pipe(process.stdout);
    const resize = () => ex.resize(process.stdout.columns, process.stdout.rows).catch(() => undefined);
    process.stdout.on("resize", resize);
    resize();
  } else {
    ex.demux(process.stdout, process.stderr);
  }
  process.stdin.pipe(ex.stream);
  await new Promise<void>((resolve) => ex.stream.on("end", resolve));
  if (tty) process.stdin.setRawMode(false);
  process.stdin.unpipe(ex.stream);
  process.stdin.pause();
  return (await ex.exitCode()) ?? 1;
}
