import { validateNodeRef } from "../../lib/cluster/swarm";
import { validateName } from "../../lib/names";

/** Route params arrive untrusted; every [name] goes through the same name rule as create. */
export function instanceParam(p: { name?: string }): string {
  return validateName(p.name);
}

/** A cluster route's [node]: a hostname or swarm id by the strict rule, before any engine sees it. */
export function nodeParam(p: { node?: string }): string {
  return validateNodeRef(p.node);
}
