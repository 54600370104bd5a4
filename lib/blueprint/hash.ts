import { canonicalJson, sha256Hex } from "./json";
import type { ParsedBlueprint } from "./parse";

/**
 * Identity of a blueprint: sha256 of the canonical JSON (sorted keys, no whitespace) of its normalised
 * form. Key order, whitespace, constants versus literal values, "@name" versus inline descriptors and
 * spelled-out defaults all hash the same (see ParsedBlueprint.normalized). Contents of bundled files and URLs are not part of it: the hash
 * names the recipe, not the bytes it downloads.
 */
export function blueprintHash(parsed: Pick<ParsedBlueprint, "normalized">): string {
  return sha256Hex(canonicalJson(parsed.normalized));
}
