import { route } from "@/edge/http/edge";
import { clusterOverview } from "@/services/cluster";

/** The Nodes view: the cluster started here (null when none), each node's state, instances and usage. */
export const GET = route(async () => clusterOverview());
