// WebAuthn policy: the configuration's checks and derived defaults, and enterprise attestation (F5: AAGUID allow-list proven by a chain to a configured root).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import type { CBORValue } from "../support/cbor.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { enrollActiveTOTP } from "../support/factors.ts";
import { SoftAuthenticator, type Tamper } from "../support/soft-authenticator.ts";
import { dialects } from "../support/stores.ts";

const ORIGIN = "https://login.example.edu";
const ALLOWED = "2fc0579f-8113-47ea-b116-bb5a8db9202a";
const OTHER = "ee882879-721c-4913-9775-3dfcce97072a";

const issues = (overrides: Record<string, unknown>): string[] => {
  try {
    loadConfig({ env: {}, overrides: { mode: "demo", ...overrides } });
    return [];
  } catch (error) {
    return ((error as { issues?: { path: string }[] }).issues ?? []).map((i) => i.path);
  }
};

describe("WebAuthn configuration", () => {
  test("RP ID, origin and name default from the public URL and the organisation; a loopback address reads localhost", () => {
    const a = loadConfig({
      env: {},
      overrides: { mode: "demo", "server.publicUrl": "https://twofold.example.edu" },
    });
    assert.equal(a.webauthn.rpId, "twofold.example.edu");
    assert.deepEqual(a.webauthn.origins, ["https://twofold.example.edu"]);
    assert.equal(a.webauthn.rpName, a.organization.name);
    const b = loadConfig({ env: {}, overrides: { mode: "demo", "server.port": 8080 } });
    assert.equal(b.webauthn.rpId, "localhost");
    assert.deepEqual(b.webauthn.origins, ["http://localhost:8080"]);
  });

  test("F2: origins must be exact https origins under the RP ID; an address is no RP ID", () => {
    const base = { "webauthn.rpId": "example.edu" };
    assert.deepEqual(issues({ ...base, "webauthn.origins": ["https://login.example.edu"] }), []);
    assert.deepEqual(issues({ ...base, "webauthn.origins": ["https://login.example.edu/"] }), [
      "webauthn.origins.0",
    ]);
    assert.deepEqual(issues({ ...base, "webauthn.origins": ["http://login.example.edu"] }), [
      "webauthn.origins.0",
    ]);
    assert.deepEqual(issues({ ...base, "webauthn.origins": ["https://example.com"] }), [
      "webauthn.origins.0",
    ]);
    assert.deepEqual(issues({ ...base, "webauthn.origins": ["https://badexample.edu"] }), [
      "webauthn.origins.0",
    ]);
    assert.deepEqual(issues({ "webauthn.rpId": "10.0.0.1" }), ["webauthn.rpId"]);
    assert.deepEqual(issues({ "webauthn.topOrigins": ["https://portal.example.edu/x"] }), [
      "webauthn.topOrigins.0",
    ]);
    assert.deepEqual(issues({ "webauthn.timeoutSeconds": 601 }), ["webauthn.timeoutSeconds"]);
  });

  test("F5: an AAGUID allow-list needs direct attestation and roots to check chains against", () => {
    assert.deepEqual(issues({ "webauthn.attestation.allowedAAGUIDs": [ALLOWED] }).sort(), [
      "webauthn.attestation.allowedAAGUIDs",
      "webauthn.attestation.rootCertificates",
    ]);
    assert.ok(
      issues({ "webauthn.attestation.allowedAAGUIDs": ["not-a-uuid"] }).includes(
        "webauthn.attestation.allowedAAGUIDs.0",
      ),
    );
    assert.deepEqual(issues({ "webauthn.attestation.rootCertificates": ["/nonexistent.pem"] }), [
      "webauthn.attestation.rootCertificates.0",
    ]);
  });
});

/** A root CA and attestation certificates (one per AAGUID) as WebAuthn §8.2.1 asks of `packed` attestation. */
function makeAttestationPKI(dir: string) {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (const root of ["root", "other-root"])
    openssl(
      ...["req", "-x509", ...ec, "-keyout", `${root}.key`, "-out", `${root}.pem`, "-days", "2"],
      ...["-subj", `/CN=Test ${root}`, "-addext", "basicConstraints=critical,CA:TRUE"],
      ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    );
  const leaf = (name: string, aaguid: string, root: string) => {
    openssl(
      "req",
      "-new",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      "/C=HK/O=Test Vendor/OU=Authenticator Attestation/CN=Test Key",
    );
    // id-fido-gen-ce-aaguid (1.3.6.1.4.1.45724.1.1.4): an OCTET STRING of the 16 AAGUID bytes.
    writeFileSync(
      join(dir, `${name}.ext`),
      `basicConstraints=critical,CA:FALSE\n1.3.6.1.4.1.45724.1.1.4=DER:0410${aaguid.replaceAll("-", "")}\n`,
    );
    openssl(
      ...["x509", "-req", "-in", `${name}.csr`, "-CA", `${root}.pem`, "-CAkey", `${root}.key`],
      ...["-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`],
    );
    const der = execFileSync("openssl", ["x509", "-in", `${name}.pem`, "-outform", "DER"], { cwd: dir });
    return { der: new Uint8Array(der), key: createPrivateKey(readFileSync(join(dir, `${name}.key`))) };
  };
  return {
    root: join(dir, "root.pem"),
    allowed: leaf("allowed", ALLOWED, "root"),
    other: leaf("other", OTHER, "root"),
    foreign: leaf("foreign", ALLOWED, "other-root"),
  };
}

/** A `packed` statement (WebAuthn §8.2): signed by an attestation certificate, or by the credential itself ("self"). */
const packed =
  (cert: { der: Uint8Array; key: ReturnType<typeof createPrivateKey> } | "self"): Tamper["attest"] =>
  (signed, credentialKey) => ({
    fmt: "packed",
    attStmt: new Map<string, CBORValue>([
      ["alg", -7],
      ["sig", new Uint8Array(sign("sha256", signed, cert === "self" ? credentialKey : cert.key))],
      ...(cert === "self" ? [] : [["x5c", [cert.der]] as [string, CBORValue]]),
    ]),
  });

const hex = (uuid: string) => Buffer.from(uuid.replaceAll("-", ""), "hex");

for (const dialect of await dialects()) {
  describe(`enterprise attestation on ${dialect}`, {
    skip: !haveOpenSSL("enterprise attestation tests"),
  }, () => {
    let t: TestContext;
    let dir: string;
    let pki: ReturnType<typeof makeAttestationPKI>;
    let n = 0;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "twofold-attestation-"));
      pki = makeAttestationPKI(dir);
      t = await createTestContext(dialect, {
        "webauthn.rpId": "example.edu",
        "webauthn.origins": [ORIGIN],
        "webauthn.attestation.conveyance": "direct",
        "webauthn.attestation.allowedAAGUIDs": [ALLOWED],
        "webauthn.attestation.rootCertificates": [pki.root],
      });
    });
    after(async () => {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function register(aaguid: string, attest: Tamper["attest"] | undefined) {
      const username = `corp-${++n}`;
      const app = await enrollActiveTOTP(t, username);
      const login = await t.services.verifyPasscode({ username, passcode: app.codeAt() });
      const start = await t.services.beginWebAuthnRegistration({
        username,
        proof: { txid: login.txid },
        context: "c",
      });
      assert.equal(start.options["attestation"], "direct");
      const key = new SoftAuthenticator({ origin: ORIGIN, aaguid: hex(aaguid) });
      const r = await t.services.finishWebAuthnRegistration({
        ceremonyId: start.ceremonyId,
        context: "c",
        response: key.register(start.options, attest ? { attest } : {}),
      });
      return r.result === "registered" ? `registered ${r.credential.aaguid}` : r.reason;
    }

    test("an allowed model with a chain to the configured root is registered", async () => {
      assert.equal(await register(ALLOWED, packed(pki.allowed)), `registered ${ALLOWED}`);
    });
    test("a model not on the list is refused, even with a good chain", async () => {
      assert.equal(await register(OTHER, packed(pki.other)), "attestation_refused");
    });
    test("an allowed AAGUID without proof is refused: format none, or self attestation", async () => {
      assert.equal(await register(ALLOWED, undefined), "attestation_refused");
      assert.equal(await register(ALLOWED, packed("self")), "attestation_refused");
    });
    test("an allowed AAGUID whose chain ends at another root is refused", async () => {
      assert.equal(await register(ALLOWED, packed(pki.foreign)), "attestation_refused");
    });
    test("a certificate naming another AAGUID than the authenticator data is refused", async () => {
      assert.equal(await register(ALLOWED, packed(pki.other)), "attestation_refused");
    });
  });
}
