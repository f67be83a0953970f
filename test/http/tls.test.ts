// TLS from configuration: a real HTTPS client trusting a throwaway CA reaches the server, and HSTS is sent.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildServer, startServer } from "../../src/http/server.ts";
import { haveOpenSSL, makeCertificates } from "../support/certificates.ts";
import { createTestRuntime } from "./support.ts";

function request(url: string, options: { ca?: Buffer }): Promise<{ res: IncomingMessage; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    // Connect to the address the server listens on, but verify the certificate for "localhost".
    get(
      { host: "127.0.0.1", port, path: "/health", servername: "localhost", agent: false, ...options },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ res, body }));
      },
    ).on("error", reject);
  });
}

test("with server.tls set the server speaks HTTPS with the configured certificate and sends HSTS", {
  // Locally a missing openssl skips loudly; under CI=true nothing skips (.ci/run installs it).
  skip: !haveOpenSSL("the TLS test"),
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "twofold-tls-"));
  const files = makeCertificates(dir, {
    caName: "Twofold Test CA",
    commonName: "localhost",
    subjectAltName: "DNS:localhost",
  });
  const t = await createTestRuntime({
    overrides: { "server.tls.cert": files.cert, "server.tls.key": files.key },
  });
  const server = await startServer(t.runtime);
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { res, body } = await request(server.url, { ca: readFileSync(files.ca) });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(body), { status: "ok" });
    assert.equal(res.headers["strict-transport-security"], "max-age=31536000; includeSubDomains");
    assert.equal(res.headers["x-content-type-options"], "nosniff");

    // A client that does not trust the CA refuses the connection: the certificate is really checked.
    await assert.rejects(request(server.url, {}), /self-signed|unable to (get|verify)|certificate/i);
  } finally {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an unreadable certificate file is a configuration error naming the setting", async () => {
  // loadConfig already checks that both files exist; a directory exists but cannot be read as PEM.
  const dir = mkdtempSync(join(tmpdir(), "twofold-tls-"));
  const t = await createTestRuntime({ overrides: { "server.tls.cert": dir, "server.tls.key": dir } });
  try {
    assert.throws(
      () => buildServer(t.runtime),
      (e: Error & { code?: string; issues?: { path: string }[] }) =>
        e.code === "ERR_CONFIG_INVALID" && e.issues?.[0]?.path === "server.tls.cert",
    );
  } finally {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
