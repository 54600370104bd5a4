import { abandonedHome, containersNamed, destroyContainer, homeId, LABEL } from "../lib/docker";
import { ConflictError } from "../lib/errors";
import { containerName, SERVICES } from "./stack";

/**
 * Before a create, under the allocation lock: the stack's container names (mdind-<name>-<service>)
 * are global on the engine, whoever made them. Ours are orphans (the registry, checked under the
 * same lock, has no such instance) and so are those of a data dir whose folder is gone: both are
 * removed. Anyone else's keeps its name, and the create is refused at once with who holds it,
 * instead of failing half-way through with the engine's bare name conflict.
 */
export async function clearStackNames(name: string): Promise<void> {
  const held = await containersNamed(SERVICES.map((s) => containerName(name, s)));
  const blocking = held.filter((c) => c.Labels?.[LABEL.home] !== homeId() && !abandonedHome(c.Labels));
  if (blocking.length) {
    const c = blocking[0];
    const owner = c.Labels?.[LABEL.homePath]
      ? `another Moodle DinD data folder (${c.Labels[LABEL.homePath]})`
      : c.Labels?.[LABEL.managed] === "true" ? "another Moodle DinD data folder" : "a container this product did not make";
    throw new ConflictError(`the name '${name}' is taken on this Docker engine: ${c.Names[0].slice(1)} belongs to ${owner}; choose another name`, "name");
  }
  for (const c of held) await destroyContainer(c.Id);
}
