import { route } from "@/edge/http/edge";
import { openapiDocument } from "@/edge/openapi";

export const GET = route(async () => openapiDocument());
