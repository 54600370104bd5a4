import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { stateKey } from "../../lib/keys";

/**
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
 * logged in successfully gets a signed cookie naming a random device id. Failed logins are counted
 * per device for browsers that show one, and per client address only for those that do not. Every
 * client reaches the dashboard from the same docker-proxy address, so an address-only limit let
 * anyone lock the admin out; now a guesser without the admin's device cookie locks out only other
 * cookieless clients, while the admin's browser keeps its own, separate count.
 *
 * The signing key is in state/device.key (0600), kept across restarts so a device stays known.
 */
export const DEVICE_COOKIE = "mdind_device";
const DEVICE_TTL_S = 365 * 24 * 3600;
const key = () => stateKey("device");

const mac = (k: Buffer, payload: string) => createHmac("sha256", k).update(`device:${payload}`).digest("base64url");

/** A fresh device cookie value for `user`: "<user>.<device id>.<mac>". */
export async function issueDevice(user: string): Promise<string> {
  const payload = `${user}.${randomBytes(16).toString("base64url")}`;
  return `${payload}.${mac(await key(), payload)}`;
}

/** The device id a cookie value proves for `user`, or null when it is missing, forged or another user's. */
export async function verifyDevice(value: string | undefined, user: string): Promise<string | null> {
  if (!value || value.length > 200) return null;
  const parts = value.split(".");
  if (parts.length !== 3 || parts[0] !== user || !/^[A-Za-z0-9_-]{22}$/.test(parts[1])) return null;
  const want = Buffer.from(mac(await key(), `${parts[0]}.${parts[1]}`));
  const got = Buffer.from(parts[2]);
  return want.length === got.length && timingSafeEqual(want, got) ? parts[1] : null;
}

/** Set-Cookie for a device: sent only to the login route, never readable by page scripts. */
export function deviceCookie(value: string, secure: boolean): string {
  return `${DEVICE_COOKIE}=${value}; Path=/api/v1/auth/login; HttpOnly; SameSite=Strict; Max-Age=${DEVICE_TTL_S}${secure ? "; Secure" : ""}`;
}
