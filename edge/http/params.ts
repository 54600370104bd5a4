import { validateName } from "../../lib/names";

/** Route params arrive untrusted; every [name] goes through the same name rule as create. */
export function instanceParam(p: { name?: string }): string {
  return validateName(p.name);
}
