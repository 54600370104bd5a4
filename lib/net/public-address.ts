import { BlockList, isIP } from "node:net";

/**
 * Whether an IP address is one a download on a user's behalf may reach: a public unicast address
 * on the internet. Everything else, the machine itself, its networks (the instance networks are
 * 172.20.N.0/24 and 172.21.0.0/16, the cloud metadata service is 169.254.169.254) and every
 * special-purpose range of the IANA registries, is refused. Pure: no DNS, no sockets.
 *
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it carries, and so are the
 * IPv6 forms that embed one and that a router could translate (NAT64, 6to4).
 */

type Range = [address: string, prefix: number, why: string];

const V4: Range[] = [
  ["0.0.0.0", 8, "'this network' (unspecified)"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "carrier-grade NAT"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignment"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "6to4 relay anycast"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved or broadcast"],
];

/** Checked after the embedded-IPv4 forms; anything outside 2000::/3 is refused by the allow rule below. */
const V6: Range[] = [
  ["64:ff9b:1::", 48, "local-use NAT64"],
  ["100::", 64, "discard-only"],
  ["2001::", 23, "IETF protocol assignment (Teredo, ORCHID, …)"],
  ["2001:db8::", 32, "documentation"],
  ["3fff::", 20, "documentation"],
  ["5f00::", 16, "segment routing"],
];

function lists(ranges: Range[], family: "ipv4" | "ipv6"): [BlockList, string][] {
  return ranges.map(([a, p, why]) => {
    const b = new BlockList();
    b.addSubnet(a, p, family);
    return [b, why];
  });
}
const V4_LISTS = lists(V4, "ipv4");
const V6_LISTS = lists(V6, "ipv6");

function v4Reason(addr: string): string | null {
  return V4_LISTS.find(([b]) => b.check(addr, "ipv4"))?.[1] ?? null;
}

/** Expand an IPv6 address to its eight 16-bit groups (input already valid per isIP). */
function groups(addr: string): number[] {
  let s = addr.toLowerCase().split("%")[0];
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (quad) {
    const [b0, b1, b2, b3] = quad.slice(1).map(Number);
    s = `${s.slice(0, quad.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === null ? [] : Array(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => Number.parseInt(g, 16));
}

const quadOf = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/** Why an address is not public, or null when it is. Throws on something that is not an IP address. */
export function nonPublicReason(address: string): string | null {
  const kind = isIP(address);
  if (kind === 4) return v4Reason(address);
  if (kind !== 6) throw new TypeError(`not an IP address: ${address}`);
  const g = groups(address);
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(8)) return "unspecified";
  if (zeros(7) && g[7] === 1) return "loopback";
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (the deprecated compatible form) reach IPv4 a.b.c.d.
  if (zeros(5) && g[5] === 0xffff) return embedded(quadOf(g[6], g[7]), "IPv4-mapped");
  if (zeros(6)) return "IPv4-compatible (deprecated)";
  // NAT64's well-known prefix carries the IPv4 address in its last 32 bits.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return embedded(quadOf(g[6], g[7]), "NAT64");
  // 6to4 carries it in bits 16..47.
  if (g[0] === 0x2002) return embedded(quadOf(g[1], g[2]), "6to4");
  if ((g[0] & 0xe000) !== 0x2000) {
    if ((g[0] & 0xfe00) === 0xfc00) return "unique local";
    if ((g[0] & 0xffc0) === 0xfe80) return "link-local";
    if ((g[0] & 0xffc0) === 0xfec0) return "site-local (deprecated)";
    if ((g[0] & 0xff00) === 0xff00) return "multicast";
    return "not global unicast (outside 2000::/3)";
  }
  const bare = address.split("%")[0];
  return V6_LISTS.find(([b]) => b.check(bare, "ipv6"))?.[1] ?? null;
}

function embedded(quad: string, form: string): string | null {
  const why = v4Reason(quad);
  return why ? `${form} ${quad}, ${why}` : null;
}

export function isPublicAddress(address: string): boolean {
  return nonPublicReason(address) === null;
}

/**
 * The host of a parsed URL as an IP address when it is one ("[::1]" → "::1"), else null. The
 * WHATWG URL parser has already turned 2130706433, 0x7f.1 and 017700000001 into 127.0.0.1.
 */
export function literalAddress(u: URL): string | null {
  const h = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return isIP(h) ? h : null;
}
