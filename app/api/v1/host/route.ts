import { route } from "@/edge/http/edge";
import { hostInfo } from "@/services/hostinfo";

/** Engine info, disk use, the 172.20.N networks and the host ports in use, and by whom. */
export const GET = route(async () => hostInfo());
