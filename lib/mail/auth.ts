import { createHmac, timingSafeEqual } from "node:crypto";
import { stateKey } from "../keys";
import { NAME_RE } from "../names";

/**
 * SMTP credentials for instances whose mail cannot be told apart by address. The catcher names an
 * instance by its sender address (172.20.N.x), but an instance on another cluster node reaches the
 * catcher through that node's NAT, so every instance on the node arrives from the node's address.
 * Such an instance logs in instead: user = its name, password = an HMAC of the name under a key
 * only this data dir holds (state/mail.key), so an instance cannot file mail as another one.
 */
const mac = async (name: string) => createHmac("sha256", await stateKey("mail")).update(`smtp:${name}`).digest("base64url");

/** The SMTP password an instance named `name` logs in with. */
export async function mailPassword(name: string): Promise<string> {
  if (!NAME_RE.test(name)) throw new Error(`not an instance name: ${JSON.stringify(name).slice(0, 40)}`);
  return mac(name);
}

/** The instance a login proves, or null when the name is not an instance name or the password is wrong. */
export async function mailLogin(user: unknown, pass: unknown): Promise<string | null> {
  if (typeof user !== "string" || typeof pass !== "string" || user.length > 32 || pass.length > 100 || !NAME_RE.test(user)) return null;
  const want = Buffer.from(await mac(user));
  const got = Buffer.from(pass);
  return want.length === got.length && timingSafeEqual(want, got) ? user : null;
}
