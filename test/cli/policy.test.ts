// `twofold app policy|show`, `twofold user browsers` and `twofold user reset-enrollment`: what an operator sees and changes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { createRuntime, type Runtime } from "../../src/runtime/runtime.ts";
import { createSandbox, type Sandbox } from "./helpers.ts";

interface ShownPolicy {
  integrationKey: string;
  policy: { methods: string[]; rememberDays: number; newUserPolicy: string; allowPlainPush: boolean };
  configured: string[];
}

describe("twofold app policy, user browsers, user reset-enrollment", () => {
  let box: Sandbox;
  let configured: string;
  before(async () => {
    // A second application whose remember days the configuration file fixes (its key is made up front).
    configured = `DI${"C".repeat(18)}`;
    box = createSandbox(
      [
        "policy:",
        "  applications:",
        "    rememberDays: 14",
        `    overrides: [{integrationKey: ${configured}, rememberDays: 1}]`,
      ].join("\n"),
    );
  });
  after(() => box.cleanup());

  const create = async (name: string) =>
    (await box.json<{ integrationKey: string }>(["app", "create", "--name", name, "--type", "web-sdk"]))
      .integrationKey;

  test("a new application starts from the configured defaults, and app policy changes each field", async () => {
    const id = await create("Campus Portal");
    const shown = await box.json<ShownPolicy>(["app", "policy", id, "--json"]);
    assert.deepEqual(shown.policy, {
      methods: ["push", "passcode-app", "token", "bypass", "rescue", "webauthn", "sms"],
      rememberDays: 14,
      newUserPolicy: "deny",
      allowPlainPush: false,
      refuseUndatedSignatures: false,
    });
    const r = await box.run([
      "app",
      "policy",
      id,
      "--methods",
      "webauthn,push,passcode-app",
      "--remember-days",
      "0",
      "--new-user",
      "enroll",
      "--plain-push",
      "on",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /methods: +push, passcode-app, webauthn/);
    assert.match(r.stdout, /trust browsers: off/);
    assert.match(r.stdout, /new users: +enroll/);
    assert.match(r.stdout, /plain push: +allowed/);
    const show = await box.run(["app", "show", id]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Campus Portal/);
    assert.match(show.stdout, /methods: +push, passcode-app, webauthn/);
    const audit = await box.json<Array<{ action: string; after: { policy: { rememberDays: number } } }>>([
      "audit",
      "tail",
      "--json",
    ]);
    assert.ok(audit.some((e) => e.action === "application.update" && e.after.policy.rememberDays === 0));
  });

  test("app create takes the policy too", async () => {
    const { integrationKey } = await box.json<{ integrationKey: string }>([
      "app",
      "create",
      "--name",
      "HR",
      "--type",
      "web-sdk",
      "--methods",
      "webauthn,push",
      "--remember-days",
      "0",
      "--new-user",
      "allow",
    ]);
    const shown = await box.json<ShownPolicy>(["app", "policy", integrationKey, "--json"]);
    assert.deepEqual(
      [shown.policy.methods, shown.policy.rememberDays, shown.policy.newUserPolicy],
      [["push", "webauthn"], 0, "allow"],
    );
    const bad = await box.run([
      "app",
      "create",
      "--name",
      "X",
      "--type",
      "web-sdk",
      "--new-user",
      "sometimes",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--new-user must be one of deny, enroll, allow/);
  });

  test("bad values are usage errors naming what is allowed; nothing changes", async () => {
    const id = await create("Strict");
    for (const [args, pattern] of [
      [["--methods", "push,carrier-pigeon"], /unknown method carrier-pigeon/],
      [["--methods", ","], /at least one method/],
      [["--remember-days", "91"], /remember-days/],
      [["--remember-days", "-1"], /remember-days/],
      [["--new-user", "maybe"], /deny, enroll, allow/],
      [["--plain-push", "yes"], /on or off/],
    ] as const) {
      const r = await box.run(["app", "policy", id, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
      assert.match(r.stderr, pattern);
    }
    assert.equal((await box.json<ShownPolicy>(["app", "policy", id, "--json"])).policy.rememberDays, 14);
  });

  test("a field the configuration file sets is shown as such and cannot be changed from the CLI", async () => {
    const runtime = await openRuntime();
    try {
      // The configured key: insert an application with exactly that key, as an earlier install might have.
      const { application } = await runtime.services.createApplication(
        { name: "t" },
        {
          name: "Configured",
          type: "web-sdk",
        },
      );
      await runtime.store.transaction(async (tx) => {
        await tx.insertApplication({ ...application, id: configured });
      });
    } finally {
      await runtime.close();
    }
    const shown = await box.json<ShownPolicy>(["app", "policy", configured, "--json"]);
    assert.equal(shown.policy.rememberDays, 1);
    assert.deepEqual(shown.configured, ["rememberDays"]);
    assert.match(
      (await box.run(["app", "show", configured])).stdout,
      /1 day \(set in the configuration file\)/,
    );
    const r = await box.run(["app", "policy", configured, "--remember-days", "30"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_POLICY_CONFIGURED|configuration file sets rememberDays/);
    const ok = await box.run(["app", "policy", configured, "--new-user", "enroll"]);
    assert.equal(ok.code, 0, "other fields still change");
  });

  async function openRuntime(): Promise<Runtime> {
    const config = loadConfig({ file: box.configFile, env: {} });
    return createRuntime(config, { logDestination: { write: () => undefined } });
  }

  test("user browsers lists a trusted browser and revokes it; reset-enrollment only once the factors are gone", async () => {
    const id = await create("Mail");
    assert.equal((await box.run(["user", "add", "carol"])).code, 0);
    const runtime = await openRuntime();
    let browserId: string;
    try {
      const s = runtime.services;
      const e = await s.enrollTOTP({ name: "t" }, "carol");
      const p = runtime.config.policy.totp;
      const code = (at: number) =>
        generateTOTP(
          {
            key: decodeBase32(e.secret.reveal())!,
            algorithm: p.algorithm,
            digits: p.digits,
            period: p.period,
          },
          at,
        );
      await s.confirmTOTP({ name: "t" }, e.credentialId, code(Date.now()));
      const app = (await s.getApplication(id))!;
      const user = (await s.findUser("carol"))!;
      const login = await s.verifyPasscode({
        username: "carol",
        passcode: code(Date.now() + 30_000),
        application: app,
      });
      assert.equal(login.result, "allow");
      browserId = (
        await s.trustBrowser({
          userId: user.id,
          applicationId: id,
          txid: login.txid,
          userAgent:
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15",
        })
      ).browserId;
    } finally {
      await runtime.close();
    }
    const list = await box.run(["user", "browsers", "carol"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${browserId}.*Mail.*Safari on macOS.*active`));
    assert.match((await box.run(["user", "show", "carol"])).stdout, /trusted browsers: +1/);

    const which = await box.run(["user", "browsers", "carol", "revoke"]);
    assert.equal(which.code, 2);
    assert.match(which.stderr, /which browser/);
    const revoked = await box.run(["user", "browsers", "carol", "revoke", browserId, "--for-user"]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match((await box.run(["user", "browsers", "carol"])).stdout, /revoked \(user\)/);
    const again = await box.run(["user", "browsers", "carol", "revoke", browserId]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no trusted browser/);
    assert.match(
      (await box.run(["user", "browsers", "carol", "revoke", "--all"])).stdout,
      /revoked 0 trusted browsers/,
    );

    // carol has an authenticator app: no reset while she has it.
    const refused = await box.run(["user", "reset-enrollment", "carol"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /still has a second factor/);
    assert.match((await box.run(["user", "show", "carol"])).stdout, /first factor: +\d{4}-/);
    const apps = await box.json<{ authenticatorApps: Array<{ id: string }> }>([
      "user",
      "show",
      "carol",
      "--json",
    ]);
    assert.equal((await box.run(["totp", "remove", apps.authenticatorApps[0]!.id])).code, 0);
    const reset = await box.run(["user", "reset-enrollment", "carol"]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /may enrol again/);
    assert.match((await box.run(["user", "show", "carol"])).stdout, /first factor: +never/);
    const audit = await box.json<Array<{ action: string }>>(["audit", "tail", "--limit", "100", "--json"]);
    assert.ok(audit.some((e) => e.action === "user.enrollment_reset"));
    assert.ok(audit.some((e) => e.action === "trusted_browser.revoke"));
  });
});
