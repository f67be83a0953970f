// Configuration: file plus TWOFOLD_* variables, every problem reported at once with its path, frozen, floors enforced.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type Config, loadConfig } from "./load.ts";

const KEY = Buffer.alloc(32, 7).toString("base64");
const dir = mkdtempSync(join(tmpdir(), "twofold-config-"));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    assert.equal((e as { code: string }).code, "ERR_CONFIG_INVALID");
    return (e as { issues: { path: string; message: string }[] }).issues;
  }
  assert.fail("expected ERR_CONFIG_INVALID");
}

test("defaults follow DESIGN.md §4", () => {
  const c = loadConfig({ env: {}, overrides: { mode: "demo" } });
  assert.equal(c.policy.totp.period, 30);
  assert.equal(c.policy.totp.digits, 6);
  assert.equal(c.policy.totp.window, 1);
  assert.equal(c.policy.hotp.lookAhead, 10);
  assert.equal(c.policy.lockout.maxFailures, 10);
  assert.equal(c.policy.bypass.defaultUses, 20);
  assert.equal(c.policy.bypass.defaultValiditySeconds, 12 * 3600);
  assert.equal(c.policy.bypass.digits, 10);
  assert.equal(c.policy.rescue.count, 10);
  assert.equal(c.policy.newUserPolicy, "deny");
});

test("YAML file, then environment, then overrides; the result is frozen", () => {
  const path = file(
    "a.yaml",
    `server:\n  port: 9000\n  host: 0.0.0.0\nkeys:\n  encryption:\n    - id: k1\n      key: ${KEY}\n`,
  );
  const c: Readonly<Config> = loadConfig({
    file: path,
    env: {
      TWOFOLD_SERVER_PORT: "9100",
      TWOFOLD_POLICY_LOCKOUT_MAX_FAILURES: "20",
      TWOFOLD_SERVER_TRUST_PROXY: "10.0.0.1, 10.0.0.2",
    },
    overrides: { "server.host": "127.0.0.1" },
  });
  assert.equal(c.server.port, 9100);
  assert.equal(c.server.host, "127.0.0.1");
  assert.equal(c.policy.lockout.maxFailures, 20);
  assert.deepEqual(c.server.trustProxy, ["10.0.0.1", "10.0.0.2"]);
  assert.throws(() => {
    (c.server as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => {
    (c.policy.lockout as { maxFailures: number }).maxFailures = 1000;
  }, TypeError);
});

test("JSON files work too, and TWOFOLD_ENCRYPTION_KEY supplies one key", () => {
  const path = file("b.json", JSON.stringify({ organization: { name: "Example University" } }));
  const c = loadConfig({ file: path, env: { TWOFOLD_ENCRYPTION_KEY: KEY } });
  assert.equal(c.organization.name, "Example University");
  assert.equal(c.keys.encryption.length, 1);
});

test("every problem is reported at once, each with its path", () => {
  const path = file(
    "bad.yaml",
    "server:\n  port: 70000\n  prot: 1\npolicy:\n  totp:\n    period: 10\n  lockout:\n    maxFailures: 101\n",
  );
  const issues = issuesOf(() =>
    loadConfig({ file: path, env: { TWOFOLD_NO_SUCH_SETTING: "1", TWOFOLD_DATABASE_URL: "mysql://x" } }),
  );
  const paths = issues.map((i) => i.path);
  for (const expected of [
    "server.port",
    "server.prot",
    "policy.totp.period",
    "policy.lockout.maxFailures",
    "TWOFOLD_NO_SUCH_SETTING",
    "keys.encryption",
    "database.url",
  ]) {
    assert.ok(
      paths.some((p) => p.startsWith(expected)),
      `${expected} in ${JSON.stringify(paths)}`,
    );
  }
});

test("security floors are errors: short key, lockout over 100, TOTP period under 15 s, missing key outside demo", () => {
  assert.ok(
    issuesOf(() => loadConfig({ env: { TWOFOLD_ENCRYPTION_KEY: Buffer.alloc(16).toString("base64") } })).some(
      (i) => i.path.startsWith("keys.encryption"),
    ),
  );
  assert.ok(
    issuesOf(() =>
      loadConfig({ env: { TWOFOLD_ENCRYPTION_KEY: KEY, TWOFOLD_POLICY_LOCKOUT_MAX_FAILURES: "101" } }),
    ).length > 0,
  );
  assert.ok(
    issuesOf(() => loadConfig({ env: { TWOFOLD_ENCRYPTION_KEY: KEY, TWOFOLD_POLICY_TOTP_PERIOD: "14" } }))
      .length > 0,
  );
  assert.ok(issuesOf(() => loadConfig({ env: {} })).some((i) => i.path === "keys.encryption"));
  assert.ok(
    issuesOf(() =>
      loadConfig({ env: { TWOFOLD_ENCRYPTION_KEY: KEY, TWOFOLD_POLICY_BYPASS_DEFAULT_USES: "50" } }),
    ).some((i) => i.path === "policy.bypass.defaultUses"),
  );
});

test("a missing or unparsable file is a clear error", () => {
  assert.ok(issuesOf(() => loadConfig({ file: join(dir, "nope.yaml"), env: {} })).length === 1);
  assert.ok(issuesOf(() => loadConfig({ file: file("c.yaml", "server: [1, 2\n"), env: {} })).length === 1);
});

test("prototype-polluting keys in a file are rejected, not merged", () => {
  const path = file("proto.json", '{"__proto__": {"polluted": true}, "mode": "demo"}');
  const issues = issuesOf(() => loadConfig({ file: path, env: {} }));
  assert.ok(issues.length > 0);
  assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
});

test("application policy: defaults per DESIGN.md §4, per-application overrides checked, from a file and the environment", () => {
  const c = loadConfig({ env: {}, overrides: { mode: "demo" } });
  assert.equal(c.policy.applications.rememberDays, 30);
  assert.deepEqual(c.policy.applications.methods, [
    "push",
    "passcode-app",
    "token",
    "bypass",
    "rescue",
    "webauthn",
    "sms",
  ]);
  assert.equal(c.policy.applications.allowPlainPush, false);
  assert.deepEqual(c.policy.applications.overrides, []);
  assert.equal(c.policy.trustedBrowsers.maxPerUser, 20);

  const key = `DI${"A".repeat(18)}`;
  const good = loadConfig({
    file: file(
      "apps.yaml",
      `mode: demo\npolicy:\n  applications:\n    overrides: [{integrationKey: ${key}, methods: [push, webauthn], rememberDays: 0}]\n`,
    ),
    env: {
      TWOFOLD_POLICY_APPLICATIONS_REMEMBER_DAYS: "7",
      TWOFOLD_POLICY_APPLICATIONS_METHODS: "push,passcode-app",
    },
  });
  assert.deepEqual(good.policy.applications.overrides, [
    { integrationKey: key, methods: ["push", "webauthn"], rememberDays: 0 },
  ]);
  assert.equal(good.policy.applications.rememberDays, 7);
  assert.deepEqual(good.policy.applications.methods, ["push", "passcode-app"]);

  const paths = issuesOf(() =>
    loadConfig({
      file: file(
        "bad-apps.yaml",
        [
          "mode: demo",
          "policy:",
          "  newUserPolicy: maybe",
          "  applications:",
          "    rememberDays: 91",
          "    methods: [push, carrier-pigeon]",
          `    overrides: [{integrationKey: ${key}}, {integrationKey: ${key}, rememberDays: -1}, {integrationKey: nope}]`,
        ].join("\n"),
      ),
      env: {},
    }),
  ).map((i) => i.path);
  for (const p of [
    "policy.newUserPolicy",
    "policy.applications.rememberDays",
    "policy.applications.methods.1",
    "policy.applications.overrides.1.rememberDays",
    "policy.applications.overrides.2.integrationKey",
  ])
    assert.ok(paths.includes(p), `${p} in ${paths.join(", ")}`);
});

test("two overrides for one application are refused: which would win would depend on the order", () => {
  const key = `DI${"B".repeat(18)}`;
  const issues = issuesOf(() =>
    loadConfig({
      env: {},
      overrides: {
        mode: "demo",
        "policy.applications.overrides": [
          { integrationKey: key, rememberDays: 1 },
          { integrationKey: key, rememberDays: 2 },
        ],
      },
    }),
  );
  assert.deepEqual(
    issues.map((i) => i.path),
    ["policy.applications.overrides.1.integrationKey"],
  );
});
