import { spawn } from "node:child_process";
import { CommandError } from "./errors";

/** Run a host program with an argv array (never a shell) and collect its output. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void; input?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let partial = "";
    const onData = (d: Buffer, which: "out" | "err") => {
      const s = d.toString();
      if (which === "out") stdout += s;
      else stderr += s;
      if (opts.onLine) {
        partial += s;
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        for (const l of lines) if (l.trim()) opts.onLine(l);
      }
    };
    child.stdout?.on("data", (d: Buffer) => onData(d, "out"));
    child.stderr?.on("data", (d: Buffer) => onData(d, "err"));
    child.on("error", (e) => reject(new CommandError([cmd, ...args], null, stdout, `${stderr}${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new CommandError([cmd, ...args], code, stdout, stderr));
    });
    if (child.stdin) {
      // A program that exits before reading its input must not crash us with EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.input);
    }
  });
}
