import { route } from "@/edge/http/edge";
import { imagesList } from "@/lib/images/cli";
import { isBusy } from "@/lib/operations";

/** The image catalog: every kind:version, whether present (built or loaded), size, freshness. */
export const GET = route(async () => ({ images: await imagesList(), operation: isBusy("_images") }));
