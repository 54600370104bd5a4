import { downloadBaseUrl } from "./download";
import { withDeadline } from "../deadline";

/**
 * Whether Moodle's download site answers, so the create form can offer "download X.Y" entries
 * only when a download can work. One HEAD request to the base URL's origin, cached for five
 * minutes; any failure (no network, a refused or blocked port, a timeout) means "no".
 * MDIND_MOODLE_DOWNLOAD=off skips the probe entirely.
 */
let cached: { at: number; ok: boolean } | null = null;
const TTL_MS = 5 * 60_000;

export async function downloadsReachable(timeoutMs = 3000): Promise<boolean> {
  if (process.env.MDIND_MOODLE_DOWNLOAD === "off") return false;
  if (cached && Date.now() - cached.at < TTL_MS) return cached.ok;
  let ok = false;
  try {
    const origin = new URL(downloadBaseUrl()).origin;
    const res = await withDeadline(timeoutMs, (signal) => fetch(origin, { method: "HEAD", redirect: "manual", signal }));
    ok = res.status < 500;
  } catch {
    ok = false;
  }
  cached = { at: Date.now(), ok };
  return ok;
}
