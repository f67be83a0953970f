// `twofold certs dev`: a local CA and a server certificate for this machine's LAN names and addresses, checked
// with openssl; a clear message without openssl; and the demo banner's advice for phones.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { lanAddresses, lanNames } from "../../src/cli/dev-certificates.ts";
import { collectOutput, createSandbox, type Sandbox } from "./helpers.ts";

const opensslMissing = spawnSync("openssl", ["version"]).error !== undefined;
if (opensslMissing && process.env["CI"] === "true") throw new Error("openssl is required under CI=true");

function openssl(args: string[]): string {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The subjectAltName entries of a certificate, as openssl prints them (IPv6 written out in full). */
function subjectAltNames(cert: string): string[] {
  const text = openssl(["x509", "-in", cert, "-noout", "-ext", "subjectAltName"]);
  return text.split("\n")[1]!.trim().split(/,\s*/);
}

/** An address as openssl prints it: IPv4 as is, IPv6 as eight upper-case groups without zero padding. */
function asOpenSSLPrints(address: string): string {
  if (!address.includes(":")) return `IP Address:${address}`;
  const [head, tail = ""] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = address.includes("::") && tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right]
    : address.split(":");
  return `IP Address:${groups.map((g) => Number.parseInt(g, 16).toString(16).toUpperCase()).join(":")}`;
}

describe("twofold certs dev", { skip: opensslMissing ? "openssl is not installed" : false }, () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("makes a CA and a certificate that verifies, for localhost, the host name and every address", async () => {
    const made = await box.json<{
      caPEM: string;
      caDER: string;
      cert: string;
      key: string;
      caCreated: boolean;
    }>(["certs", "dev"]);
    assert.equal(made.caCreated, true);
    assert.equal(made.cert, join(box.dir, "data/certs/server.pem"));
    assert.match(openssl(["verify", "-CAfile", made.caPEM, "-purpose", "sslserver", made.cert]), /: OK/);
    const sans = subjectAltNames(made.cert);
    const expected = [...lanNames().map((n) => `DNS:${n}`), ...lanAddresses().map(asOpenSSLPrints)];
    console.log(`subjectAltName: ${sans.join(", ")}`);
    assert.deepEqual(sans, expected);
    assert.ok(sans.includes("IP Address:127.0.0.1") && sans.includes("DNS:localhost"));
    const ca = openssl(["x509", "-in", made.caPEM, "-noout", "-ext", "basicConstraints"]);
    assert.match(ca, /CA:TRUE, pathlen:0/);
    // The DER copy for phones is the same certificate.
    assert.equal(
      openssl(["x509", "-inform", "DER", "-in", made.caDER, "-noout", "-fingerprint", "-sha256"]),
      openssl(["x509", "-in", made.caPEM, "-noout", "-fingerprint", "-sha256"]),
    );
    // openssl x509 -checkend N exits 1 when the certificate expires within N seconds.
    const within = (days: number) =>
      spawnSync("openssl", ["x509", "-in", made.cert, "-noout", "-checkend", String(days * 86400)]).status ===
      1;
    assert.ok(within(398) && !within(396), "valid 397 days: under the 398 days phones' browsers accept");

    // Run again: the CA a phone already trusts is kept; the new certificate still verifies against it.
    const fingerprint = openssl(["x509", "-in", made.caPEM, "-noout", "-fingerprint", "-sha256"]);
    const again = await box.json<{ caCreated: boolean; caPEM: string; cert: string }>(["certs", "dev"]);
    assert.equal(again.caCreated, false);
    assert.equal(openssl(["x509", "-in", again.caPEM, "-noout", "-fingerprint", "-sha256"]), fingerprint);
    assert.match(openssl(["verify", "-CAfile", again.caPEM, again.cert]), /: OK/);
  });

  test("without openssl it says so and what to install, and the demo banner says why phones cannot join", async () => {
    const noOpenSSL = { PATH: "/nonexistent" };
    const r = await box.run(["certs", "dev", "--dir", "elsewhere"], { env: noOpenSSL });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /openssl was not found on the PATH \(Debian\/Ubuntu: apt-get install openssl/);

    const server = box.spawn(["serve", "--demo", "--port", "0"], {
      ...noOpenSSL,
      TWOFOLD_CONFIG: undefined,
      TWOFOLD_LOGGING_LEVEL: "silent",
    });
    const output = collectOutput(server);
    let banner = "";
    await new Promise<void>((resolve) => {
      server.stdout!.on("data", (d: Buffer) => {
        banner += d.toString();
        if (/in a browser/.test(banner)) resolve();
      });
    });
    const exited = once(server, "exit");
    server.kill("SIGTERM");
    await exited;
    await output;
    assert.match(banner, /From a phone: the Twofold Authenticator needs HTTPS/);
    assert.match(
      banner,
      /`twofold certs dev` would make a local CA and certificate, but openssl was not found/,
    );
    assert.doesNotMatch(banner, /--tls-cert/);
  });
});
