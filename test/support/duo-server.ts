// A real listening Twofold with TLS for the Duo client tests, its integrations, and the command-line authenticator to answer pushes.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { activationLink } from "../../src/config/load.ts";
import type { ApplicationPolicy } from "../../src/core/model.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { BIN, baseEnv, collectOutput, type RunResult } from "../cli/helpers.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { type CertificateFiles, makeCertificates } from "./certificates.ts";
import type { DialectName } from "./stores.ts";

export interface Integration {
  ikey: string;
  skey: string;
}

export interface DuoTestServer {
  t: HTTPTestContext;
  server: RunningServer;
  /** `localhost` or `localhost:PORT`: what a client is configured with. */
  host: string;
  port: number;
  certificates: CertificateFiles;
  dir: string;
  createIntegration(type: string, policy?: Partial<ApplicationPolicy>): Promise<Integration>;
  /** Activate a command-line authenticator for `username`; returns its state file. */
  activateAuthenticator(username: string): Promise<string>;
  /** Run `twofold device …` with the state file and the test CA; killed after `timeoutMs` (default 60 s). */
  device(state: string, args: string[], timeoutMs?: number): Promise<RunResult>;
  close(): Promise<void>;
}

/**
 * Twofold on `https://localhost:PORT` (443 when asked: the Node duo_api client cannot use another port) with a
 * throwaway CA whose certificate names `DNS:localhost` (duo_unix checks DNS names only). Real clock: clients sign
 * with the time of day.
 */
export async function startDuoTestServer(
  options: { port?: number; dialect?: DialectName; overrides?: Record<string, unknown> } = {},
): Promise<DuoTestServer> {
  const dir = mkdtempSync(join(tmpdir(), "twofold-duo-"));
  const certificates = makeCertificates(dir, {
    caName: "Twofold Duo test CA",
    commonName: "localhost",
    subjectAltName: "DNS:localhost",
  });
  const port = options.port ?? 0;
  const t = await createTestRuntime({
    ...(options.dialect ? { dialect: options.dialect } : {}),
    systemClock: true,
    overrides: {
      // Both loopback families: `localhost` may resolve to ::1 or 127.0.0.1.
      "server.host": "::",
      "server.port": port,
      "server.tls.cert": certificates.cert,
      "server.tls.key": certificates.key,
      ...(port === 443 ? { "server.publicUrl": "https://localhost" } : {}),
      ...options.overrides,
    },
  });
  const server = await startServer(t.runtime);
  const actualPort = Number(new URL(server.url).port || 443);
  const host = actualPort === 443 ? "localhost" : `localhost:${actualPort}`;
  const env = baseEnv();
  const device = async (state: string, args: string[], timeoutMs = 60_000) => {
    // `passcode` and `accounts` work offline and take no network options.
    const offline = args[0] === "passcode" || args[0] === "accounts";
    const child = spawn(
      process.execPath,
      [BIN, "device", ...args, "--state", state, ...(offline ? [] : ["--ca", certificates.ca])],
      { env, stdio: "pipe" },
    );
    child.stdin.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    try {
      return await collectOutput(child);
    } finally {
      clearTimeout(timer);
    }
  };
  let activations = 0;
  return {
    t,
    server,
    host,
    port: actualPort,
    certificates,
    dir,
    async createIntegration(type, policy) {
      const created = await t.runtime.services.createApplication(ADMIN, {
        name: `${type} test integration`,
        type,
        ...(policy ? { policy } : {}),
      });
      return { ikey: created.application.id, skey: created.secretKey.reveal() };
    },
    async activateAuthenticator(username) {
      const ticket = await t.runtime.services.createDeviceActivation(ADMIN, username);
      const link = activationLink(
        { ...t.runtime.config, server: { ...t.runtime.config.server, publicUrl: `https://${host}` } },
        ticket.token.reveal(),
      );
      const state = join(dir, `device-${++activations}.json`);
      const r = await device(state, ["activate", link, "--name", `${username}'s test phone`]);
      if (r.code !== 0) throw new Error(`device activate failed (${r.code}): ${r.stderr}${r.stdout}`);
      return state;
    },
    device,
    async close() {
      await server.close();
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
