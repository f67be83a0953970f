// A local certificate authority and a server certificate for this machine's LAN names and addresses (openssl),
// so a phone can reach the demo over HTTPS: browsers give the authenticator app its camera, keys and service
// worker only on a secure origin (W3C Secure Contexts §3).
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import { randomHex } from "../core/crypto/index.ts";

export interface DevCertificates {
  dir: string;
  /** The CA to install on the phone: PEM (ca.pem) and DER (ca.crt, what phones' "install a certificate" takes). */
  caPEM: string;
  caDER: string;
  /** Whether the CA was made now (false: an earlier one was kept, so phones that trust it keep working). */
  caCreated: boolean;
  cert: string;
  key: string;
  dnsNames: string[];
  addresses: string[];
}

/** This machine's names: localhost, the host name and its mDNS (.local) form. */
export function lanNames(): string[] {
  const host = hostname().toLowerCase();
  const names = ["localhost"];
  if (/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host) && host !== "localhost") {
    names.push(host);
    if (!host.includes(".")) names.push(`${host}.local`);
  }
  return names;
}

/** Loopback, then every address of the machine's network interfaces (IPv6 link-local ones left out: no URL works). */
export function lanAddresses(): string[] {
  const found = ["127.0.0.1", "::1"];
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) {
      if (a.internal || a.address.startsWith("fe80:")) continue;
      if (!found.includes(a.address)) found.push(a.address);
    }
  return found;
}

/** The first non-loopback IPv4 address (what a phone on the same Wi-Fi types), if any. */
export function lanAddress(): string | undefined {
  return lanAddresses().find((a) => a.includes(".") && a !== "127.0.0.1");
}

/** Why openssl cannot be used here (found on env's PATH), or undefined when it can. */
export function opensslMissing(env: NodeJS.ProcessEnv): string | undefined {
  const probe = spawnSync("openssl", ["version"], { encoding: "utf8", env });
  if (probe.error || probe.status !== 0)
    return "openssl was not found on the PATH (Debian/Ubuntu: apt-get install openssl; macOS: brew install openssl)";
  return undefined;
}

const CA_DAYS = 825;
/** Apple's and Chromium's ceiling for a TLS server certificate's lifetime is 398 days. */
const SERVER_DAYS = 397;

/**
 * Make (or keep) `dir`/ca.pem + ca-key.pem, and make a new server.pem + server-key.pem signed by it whose
 * subjectAltName lists `dnsNames` and `addresses`. Keys are written with mode 0600.
 */
export function createDevCertificates(
  dir: string,
  env: NodeJS.ProcessEnv,
  dnsNames: string[] = lanNames(),
  addresses: string[] = lanAddresses(),
): DevCertificates {
  const missing = opensslMissing(env);
  if (missing) throw new Error(`cannot make certificates: ${missing}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = (name: string) => join(dir, name);
  const openssl = (args: string[]) => {
    const r = spawnSync("openssl", args, { encoding: "utf8", env });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.trim()}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

  const caCreated = !(existsSync(path("ca.pem")) && existsSync(path("ca-key.pem")));
  if (caCreated) {
    // RFC 5280 §4.2.1.9: a CA that signs only end-entity certificates (pathlen 0).
    // biome-ignore format: openssl's arguments read best in option/value pairs
    openssl([
      "req", "-x509", "-new", ...ec, "-keyout", path("ca-key.pem"), "-out", path("ca.pem"),
      "-days", String(CA_DAYS), "-subj", `/O=Twofold development/CN=Twofold development CA (${hostname()})`,
      "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    chmodSync(path("ca-key.pem"), 0o600);
  }
  openssl(["x509", "-in", path("ca.pem"), "-outform", "DER", "-out", path("ca.crt")]);

  const san = [...dnsNames.map((n) => `DNS:${n}`), ...addresses.map((a) => `IP:${a}`)].join(",");
  writeFileSync(
    path("server.ext"),
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${san}`,
      "",
    ].join("\n"),
  );
  openssl([
    "req",
    "-new",
    ...ec,
    "-keyout",
    path("server-key.pem"),
    "-out",
    path("server.csr"),
    "-subj",
    `/CN=${dnsNames[0] ?? "localhost"}`,
  ]);
  chmodSync(path("server-key.pem"), 0o600);
  // biome-ignore format: openssl's arguments read best in option/value pairs
  openssl([
    "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca-key.pem"),
    "-set_serial", `0x${randomHex(16)}`,
    "-days", String(SERVER_DAYS), "-sha256", "-extfile", path("server.ext"), "-out", path("server.pem"),
  ]);
  rmSync(path("server.csr"));
  rmSync(path("server.ext"));
  return {
    dir,
    caPEM: path("ca.pem"),
    caDER: path("ca.crt"),
    caCreated,
    cert: path("server.pem"),
    key: path("server-key.pem"),
    dnsNames,
    addresses,
  };
}
