/** One fetch of an archive packed by POST /cluster/instances/{name}/export: the same store and rules as a single host's. */
export { GET } from "../../../../../instances/[name]/export/[token]/route";
