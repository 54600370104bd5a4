import { ValidationError } from "../errors";

/**
 * What a blueprint is allowed to do. Blueprints come from users (pasted, uploaded, fetched), so the
 * defaults are the safe ones: no arbitrary code or file writes, no network downloads, bounded sizes.
 * Operators opt in per run.
 */
export interface BlueprintPolicy {
  /** Allow runPhpCode, runPhpScript, writeFile and unzip (they run arbitrary code or write arbitrary files). */
  allowUnsafe: boolean;
  /**
   * Allow `url` resources (and step fields that are URLs to download), fetched over http(s) only and
   * from public addresses only, even then (lib/net/public-address.ts; MDIND_BLUEPRINT_ALLOW_HOSTS
   * exempts a test server or mirror).
   */
  allowUrls: boolean;
  /** Cap for any single resource after decoding or download. */
  maxResourceBytes: number;
  /** Cap for the blueprint.json text itself. */
  maxBlueprintBytes: number;
  maxSteps: number;
  /** Time allowed for one URL download, headers and body together. */
  fetchTimeoutMs: number;
}

export const MiB = 1024 * 1024;

export const DEFAULT_POLICY: Readonly<BlueprintPolicy> = Object.freeze({
  allowUnsafe: false,
  allowUrls: false,
  maxResourceBytes: 20 * MiB,
  maxBlueprintBytes: 32 * MiB,
  maxSteps: 1000,
  fetchTimeoutMs: 60_000,
});

export function resolvePolicy(p: Partial<BlueprintPolicy> = {}): BlueprintPolicy {
  const out: BlueprintPolicy = { ...DEFAULT_POLICY };
  for (const [k, v] of Object.entries(p) as [keyof BlueprintPolicy, unknown][]) {
    if (v === undefined) continue;
    if (!(k in DEFAULT_POLICY)) throw new ValidationError(`unknown blueprint policy option '${k}'`, k);
    if (typeof DEFAULT_POLICY[k] !== typeof v) throw new ValidationError(`blueprint policy option '${k}' has the wrong type`, k);
    if (typeof v === "number" && (!Number.isFinite(v) || v <= 0)) {
      throw new ValidationError(`blueprint policy option '${k}' must be a positive number`, k);
    }
    (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}
