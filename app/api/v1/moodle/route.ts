import { route } from "@/edge/http/edge";
import { listBuildsWithUsage, skippedSources } from "@/instances/builds";
import { isBusy, MOODLE_CHANNEL } from "@/lib/operations";

/** The Moodle library: each build with the instances using it, sources-folder entries that are not builds, and the library's running operation. */
export const GET = route(async () => ({
  builds: await listBuildsWithUsage(),
  skipped: await skippedSources(),
  operation: isBusy(MOODLE_CHANNEL),
}));
