import { fileURLToPath } from "node:url";
import { AppError, ValidationError } from "../errors";
import { mapResourceField, type ParsedStep } from "./parse";
import type { ResourceDescriptor } from "./resources";
import { getStepDefinition } from "./steps";
import type { StepOutcome } from "./runner";

/**
 * The contract with php/mdind_blueprint_step.php, kept next to it so both sides change together.
 * The executor copies the script into the Moodle container, runs
 *   php mdind_blueprint_step.php <code root>   (argv only carries the code root)
 * with the JSON from phpStepInput() on STDIN, and reads the result with parsePhpStepOutput().
 */

export const PHP_STEP_SCRIPT_NAME = "mdind_blueprint_step.php";

/** Absolute path of the PHP step script in this checkout. */
export function phpStepScriptPath(): string {
  return fileURLToPath(new URL(`./php/${PHP_STEP_SCRIPT_NAME}`, import.meta.url));
}

/** How a resource reaches the PHP side: a file the executor placed in the container, or small inline bytes. */
export type MaterialisedResource = { localPath: string } | { base64: string };

/**
 * The STDIN document for one step. Resource fields are handed to `materialise` (which typically resolves
 * the descriptor host-side with the run's ResourceResolver and copies the bytes into the container), so the
 * PHP script never downloads anything or sees a bundle path.
 */
export async function phpStepInput(
  step: ParsedStep,
  materialise: (desc: ResourceDescriptor, field: string) => Promise<MaterialisedResource>,
): Promise<string> {
  const def = getStepDefinition(step.name);
  let args: unknown = { ...step.args };
  for (const rf of def?.resourceFields ?? []) {
    // Collect first (mapResourceField is synchronous), materialise in order, then put the results in place.
    const found: { desc: ResourceDescriptor; at: string }[] = [];
    mapResourceField(args, rf.field, (v, at) => (found.push({ desc: v as ResourceDescriptor, at }), v));
    const done: MaterialisedResource[] = [];
    for (const f of found) done.push(await materialise(f.desc, f.at));
    let i = 0;
    args = mapResourceField(args, rf.field, () => done[i++]);
  }
  return JSON.stringify({ step: step.name, ...(args as Record<string, unknown>) });
}

/** Read the script's result: the last non-empty stdout line is the JSON result. */
export function parsePhpStepOutput(stdout: string, exitCode: number | null): StepOutcome {
  const lines = stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  const last = lines[lines.length - 1];
  let result: { changed?: unknown; detail?: unknown; error?: unknown; log?: unknown } | null = null;
  try {
    result = last ? JSON.parse(last) : null;
  } catch {
    result = null;
  }
  if (!result || typeof result !== "object") {
    throw new AppError("command", `blueprint step script gave no result (exit ${exitCode ?? "signal"}): ${stdout.slice(-500)}`);
  }
  if (typeof result.error === "string") {
    // Exit 2 means the input or the boot was wrong, not the step.
    if (exitCode === 2) throw new ValidationError(result.error);
    throw new AppError("command", result.error);
  }
  if (exitCode !== 0) throw new AppError("command", `blueprint step script exited with ${exitCode ?? "signal"}`);
  return { changed: result.changed === true, detail: typeof result.detail === "string" ? result.detail : undefined };
}
