// Where Web Push may send: https push services on the host allow-list, at public addresses only (no SSRF).
import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { TwofoldError } from "../../core/errors.ts";

export interface PushAddressPolicy {
  /** Host names (and their subdomains) pushes may go to; `*` allows any host with public addresses. */
  allowedHosts: readonly string[];
  /** RFC 8030 §8 requires https; only tests against a local push service allow http. */
  allowHTTP: boolean;
  /** Tests with a push service on this machine only: loopback addresses pass, whatever the host list says. */
  allowLoopback: boolean;
  /** Name resolution (tests give names fixed addresses); the system resolver unless set. */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
}

/**
 * Addresses that are not the public internet (IANA special-purpose registries, RFC 6890 and updates): this host,
 * private networks, carrier-grade NAT, link-local (cloud metadata at 169.254.169.254), documentation, benchmarking,
 * multicast and reserved space. IPv6 is allowed only in global unicast 2000::/3, less its special blocks.
 */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, "ipv4");
const GLOBAL_UNICAST_V6 = new BlockList();
GLOBAL_UNICAST_V6.addSubnet("2000::", 3, "ipv6");
for (const [net, prefix] of [
  // IETF protocol assignments, Teredo, ORCHIDv2 and others (RFC 2928, 4380, 7343).
  ["2001::", 23],
  ["2001:db8::", 32],
  // 6to4 (RFC 3056) carries any IPv4 address inside, private ones included.
  ["2002::", 16],
  ["3fff::", 20],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, "ipv6");
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

function family(address: string): "ipv4" | "ipv6" | undefined {
  const v = isIP(address);
  return v === 4 ? "ipv4" : v === 6 ? "ipv6" : undefined;
}

/**
 * Whether an address is on the public internet. IPv4-mapped (`::ffff:10.0.0.1`), IPv4-compatible, NAT64 and
 * other IPv6 forms that embed an IPv4 address are outside 2000::/3 or in a refused block, so they are refused.
 */
export function isPublicAddress(address: string): boolean {
  const f = family(address);
  if (f === "ipv4") return !NOT_PUBLIC.check(address, "ipv4");
  if (f === "ipv6") return GLOBAL_UNICAST_V6.check(address, "ipv6") && !NOT_PUBLIC.check(address, "ipv6");
  return false;
}

export function isLoopbackAddress(address: string): boolean {
  const f = family(address);
  return f !== undefined && LOOPBACK.check(address, f);
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return allowed.some((entry) => {
    const e = entry.toLowerCase().replace(/\.$/, "");
    return e === "*" || h === e || h.endsWith(`.${e}`);
  });
}

const refuse = (message: string, origin: string): never => {
  throw new TwofoldError("ERR_VALIDATION", message, { detail: `origin=${origin}` });
};

/**
 * What can be said of an endpoint without resolving it: a URL, https, a host on the list (or, for tests, a
 * loopback literal), not an address literal outside the public internet. Used when a device registers, and again
 * before every send. Returns the URL.
 */
export function checkPushEndpointURL(endpoint: string, policy: PushAddressPolicy): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (cause) {
    throw new TwofoldError("ERR_VALIDATION", "push endpoint is not a URL", { cause });
  }
  if (url.protocol !== "https:" && !(policy.allowHTTP && url.protocol === "http:"))
    refuse("push endpoint must use https", url.origin);
  if (url.username || url.password) refuse("push endpoint must not carry credentials", url.origin);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(host)) {
    if (policy.allowLoopback && isLoopbackAddress(host)) return url;
    if (!isPublicAddress(host)) refuse("push endpoint is not a public address", url.origin);
  }
  if (!hostAllowed(host, policy.allowedHosts) && !(policy.allowLoopback && host === "localhost"))
    refuse("push endpoint is not a known push service (push.webPush.allowedHosts)", url.origin);
  return url;
}

/**
 * A `lookup` for the connection itself (net.connect): resolves the name, refuses it when any address is not
 * public, and hands the socket exactly the addresses it checked, so a second resolution (DNS rebinding) cannot
 * slip a private address in between the check and the connect.
 */
export function createCheckedLookup(policy: PushAddressPolicy): LookupFunction {
  const resolve = policy.resolve ?? ((host: string) => dnsLookup(host, { all: true, verbatim: true }));
  return (hostname, options, callback) => {
    const host = hostname.replace(/^\[(.*)\]$/, "$1");
    const checked = async () => {
      const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolve(host);
      if (addresses.length === 0) refuse("push endpoint does not resolve", host);
      const loopbackOnly = policy.allowLoopback && addresses.every((a) => isLoopbackAddress(a.address));
      if (!loopbackOnly && !addresses.every((a) => isPublicAddress(a.address)))
        refuse("push endpoint resolves to an address that is not public", host);
      return addresses;
    };
    checked().then(
      (addresses) => {
        const first = addresses[0]!;
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, ""),
    );
  };
}
