import { route } from "@/edge/http/edge";
import { nodeParam } from "@/edge/http/params";
import { activateNodeOp } from "@/services/cluster";

/** Activate a node again (the scheduler may place there); short, so the answer is the node itself. */
export const POST = route<{ node: string }>(async ({ params }) => activateNodeOp(nodeParam(params)));
