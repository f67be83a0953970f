// `twofold serve --demo` (what `npm start` runs): banner, health check, clean stop on SIGTERM, seeded only once.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { ensureDemoOrganization } from "../../src/runtime/demo.ts";
import { createRuntime } from "../../src/runtime/runtime.ts";
import { createSandbox, type Sandbox } from "./helpers.ts";

/** Demo mode with nothing configured, as after `npm install`, on a free port. */
const DEMO_ENV = { TWOFOLD_CONFIG: undefined, TWOFOLD_SERVER_PORT: "0", TWOFOLD_LOGGING_LEVEL: "silent" };

interface Started {
  child: ChildProcess;
  banner: string;
  url: string;
}

async function startDemo(box: Sandbox): Promise<Started> {
  const child = box.spawn(["serve", "--demo"], DEMO_ENV);
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner in 30 s: ${stdout}${stderr}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (/in a browser/.test(stdout)) {
        clearTimeout(timer);
        resolve(stdout);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr}`));
    });
  });
  const url = /Listening on (http:\/\/\S+)/.exec(banner)![1]!;
  return { child, banner, url };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const [code] = (await exited) as [number | null];
  return code;
}

describe("twofold serve --demo", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("prints the banner, answers /health, stops with exit code 0 on SIGTERM, and seeds the demo once", async () => {
    const first = await startDemo(box);
    try {
      assert.match(first.banner, /alice \/ alice-demo/);
      assert.match(first.banner, /bob \/ bob-demo/);
      assert.match(first.banner, /integration key DI[A-Z0-9]{18}/);
      assert.match(first.banner, /otpauth:\/\/totp\/Twofold:alice\?secret=[A-Z2-7]+/);
      assert.match(first.banner, /[█▀▄]/, "alice's QR code");
      assert.match(first.banner, new RegExp(`Open ${first.url.replaceAll(".", "\\.")} in a browser`));
      const health = await fetch(`${first.url}/health`);
      assert.equal(health.status, 200);
      const start = await fetch(`${first.url}/`);
      assert.equal(start.status, 200);
    } finally {
      assert.equal(await stop(first.child), 0);
    }

    const second = await startDemo(box);
    assert.equal(await stop(second.child), 0);
    const key = (b: string) => /integration key (DI\w+)/.exec(b)![1];
    const uri = (b: string) => /otpauth:\/\/\S+/.exec(b)![0];
    assert.equal(key(second.banner), key(first.banner), "same demo application");
    assert.equal(uri(second.banner), uri(first.banner), "same TOTP enrolment");

    const env = { env: DEMO_ENV };
    const users = await box.run(["--demo", "user", "list", "--json"], env);
    assert.equal(users.code, 0, users.stderr);
    assert.deepEqual(
      JSON.parse(users.stdout).users.map((u: { username: string }) => u.username),
      ["alice", "bob"],
    );
    const bob = JSON.parse((await box.run(["--demo", "user", "show", "bob", "--json"], env)).stdout);
    assert.deepEqual(
      bob.tokens.map((t: { serial: string }) => t.serial),
      ["DEMO-0001"],
    );
    // bob's demo token shows the RFC 4226 Appendix D codes.
    const login = await box.run(["--demo", "passcode", "check", "bob", "755224"], env);
    assert.match(login.stdout, /^allow \(factor: token/);
  });

  test("the demo organisation is never created outside demo mode", async () => {
    const config = loadConfig({ file: box.configFile, env: {} });
    assert.equal(config.mode, "production");
    const runtime = await createRuntime(config);
    try {
      await assert.rejects(ensureDemoOrganization(runtime), { code: "ERR_FORBIDDEN" });
      assert.equal((await runtime.store.listUsers({})).total, 0);
    } finally {
      await runtime.close();
    }
  });
});
