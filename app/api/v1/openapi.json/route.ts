import { route } from "@/lib/http/edge";
import { openapiDocument } from "@/lib/openapi";

export const GET = route(async () => openapiDocument());
