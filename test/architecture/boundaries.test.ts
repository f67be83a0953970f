// Architecture rules from DESIGN.md §2 and STYLE.md: dependencies point inward, one crypto module, no Math.random.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import type { Keyring } from "../../src/core/crypto/keyring.ts";
import type { Policy } from "../../src/core/policy.ts";
import type { PushEvents, Store } from "../../src/core/ports.ts";
import { createServices, SERVICE_AREAS, type ServiceConfig } from "../../src/core/services.ts";

function sources(dir: string): string[] {
  // A layer with no code yet (src/adapters, src/radius) has no folder in a fresh clone.
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Every module specifier a file imports (static, dynamic, for side effects only, and re-exports). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^import\s+["']([^"']+)["']/gm,
  )) {
    specs.push((m[1] ?? m[2] ?? m[3])!);
  }
  return specs;
}

const core = sources("src/core");

test("src/core imports nothing outside src/core except pure libraries", () => {
  const allowedPackages = new Set(["@xmldom/xmldom", "libphonenumber-js/max"]);
  // WebAuthn verification (@simplewebauthn/server, made for the field: STYLE.md) is cryptography: only the
  // crypto module may use it, like node:crypto.
  const cryptoPackages = new Set(["@simplewebauthn/server", "@simplewebauthn/server/helpers"]);
  const offenders: string[] = [];
  for (const file of core) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith(".")) {
        const target = relative(".", join(file, "..", spec));
        if (!target.startsWith("src/core/")) offenders.push(`${file} → ${spec}`);
      } else if (spec.startsWith("node:")) {
        if (spec !== "node:crypto") offenders.push(`${file} → ${spec}`);
      } else if (cryptoPackages.has(spec)) {
        if (!file.startsWith("src/core/crypto/")) offenders.push(`${file} → ${spec}`);
      } else if (!allowedPackages.has(spec)) {
        offenders.push(`${file} → ${spec}`);
      }
    }
  }
  assert.deepEqual(offenders, [], "core must not import HTTP, SQL, the file system or adapters");
});

test("only src/core/crypto imports node:crypto", () => {
  const offenders = sources("src")
    .filter((f) => !f.startsWith("src/core/crypto/"))
    .filter((f) => importsOf(f).some((s) => s === "node:crypto" || s === "crypto"));
  assert.deepEqual(offenders, []);
});

test("the core reads no environment and no wall clock (time comes through the Clock port)", () => {
  const offenders: string[] = [];
  for (const file of core) {
    const code = readFileSync(file, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    if (/process\.env/.test(code)) offenders.push(`${file}: process.env`);
    if (/Date\.now\(\)|new Date\(\)/.test(code)) offenders.push(`${file}: wall clock`);
  }
  assert.deepEqual(offenders, []);
});

test("nothing under src uses Math.random (M1)", () => {
  const offenders = sources("src").filter((f) => /Math\.random\(/.test(readFileSync(f, "utf8")));
  assert.deepEqual(offenders, []);
});

test("only src/config reads configuration from the environment", () => {
  const allowed = ["src/config/", "src/cli/"];
  const offenders = sources("src")
    .filter((f) => !allowed.some((a) => f.startsWith(a)))
    .filter((f) => /process\.env\[?["'.]?TWOFOLD/.test(readFileSync(f, "utf8")));
  assert.deepEqual(offenders, []);
});

test("the store and adapters do not import interfaces (http, cli, radius)", () => {
  const offenders: string[] = [];
  for (const dir of ["src/store", "src/adapters"]) {
    for (const file of sources(dir)) {
      for (const spec of importsOf(file)) {
        const target = spec.startsWith(".") ? relative(".", join(file, "..", spec)) : spec;
        if (/^src\/(http|cli|radius)\//.test(target) || spec === "fastify")
          offenders.push(`${file} → ${spec}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

test("the store imports no adapter, and adapters import no store (both depend on src/core only)", () => {
  // The store implements the Store port; adapters implement the other ports. Neither knows the other: the
  // composition root (src/runtime) wires them together, so an adapter such as the PostgreSQL push events can be
  // replaced without touching the store, and the store's tables are no adapter's business.
  const offenders: string[] = [];
  const rules: [string, RegExp][] = [
    ["src/store", /^src\/adapters\//],
    ["src/adapters", /^src\/store\//],
  ];
  for (const [dir, forbidden] of rules) {
    for (const file of sources(dir)) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith(".")) continue;
        if (forbidden.test(relative(".", join(file, "..", spec)))) offenders.push(`${file} → ${spec}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

test("the store's aggregate modules stand side by side: none imports another", () => {
  // Each aggregate (src/store/aggregates) sees only the shared context, the row mapping, the tables and the core;
  // a query that spans aggregates runs through the Store port inside one transaction instead.
  const offenders: string[] = [];
  for (const file of sources("src/store/aggregates")) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith(".") && relative(".", join(file, "..", spec)).startsWith("src/store/aggregates/"))
        offenders.push(`${file} → ${spec}`);
    }
  }
  assert.deepEqual(offenders, []);
});

/** The interfaces: today's HTTP and CLI (and the device client), and the prompt, portal, console, RADIUS and OIDC to come. */
const INTERFACE_DIRS = ["src/http", "src/cli", "src/client", "src/radius", "src/oidc", "web"];

function interfaceSources(): string[] {
  return INTERFACE_DIRS.flatMap((dir) => sources(dir).concat(existsSync(dir) ? tsxSources(dir) : []));
}

function tsxSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsxSources(path);
    return name.endsWith(".tsx") && !name.endsWith(".test.tsx") ? [path] : [];
  });
}

test("interfaces import neither the store nor an adapter: they call the application services", () => {
  const offenders: string[] = [];
  for (const file of interfaceSources()) {
    for (const spec of importsOf(file)) {
      const target = spec.startsWith(".") ? relative(".", join(file, "..", spec)) : spec;
      if (/^src\/(store|adapters)\//.test(target)) offenders.push(`${file} → ${spec}`);
      if (/^(kysely|pg|better-sqlite3|web-push|mmdb-lib|maxmind)$/.test(spec))
        offenders.push(`${file} → ${spec}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test("interfaces never reach the store through the runtime or the services", () => {
  const offenders: string[] = [];
  for (const file of interfaceSources()) {
    const code = readFileSync(file, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    if (/\.store\b/.test(code)) offenders.push(`${file}: .store`);
    if (/\bservices\.deps\b|\.deps\.store\b/.test(code)) offenders.push(`${file}: services.deps`);
    if (/\{[^{}]*\bstore\b[^{}]*\}\s*=\s*(?:await\s+)?(?:ctx\.runtime\(\)|runtime\b)/.test(code))
      offenders.push(`${file}: takes the store from the runtime`);
    if (/import\s+(?:type\s+)?\{[^}]*\bStore\b[^}]*\}\s+from\s+["'][./]*core\/ports\.ts["']/.test(code))
      offenders.push(`${file}: imports the Store port`);
  }
  assert.deepEqual(offenders, []);
});

test("the interfaces' runtime type has no store or keyring, and the services do not hand out their dependencies", () => {
  const runtime = readFileSync("src/runtime/runtime.ts", "utf8");
  assert.match(runtime, /export type ServiceRuntime = Omit<Runtime, "store" \| "keyring" \| "pushEvents">;/);
  // Bound to stand-ins: createServices only binds, so nothing is called on them.
  const services = createServices({
    store: {} as Store,
    keyring: {} as Keyring,
    clock: { now: () => 0 },
    config: {
      policy: {} as Policy,
      organization: { issuer: "Twofold" },
      identity: { stripDomains: [] },
      housekeeping: {} as ServiceConfig["housekeeping"],
      sms: { guard: {} as ServiceConfig["sms"]["guard"] },
    },
    nodeName: "node",
    pushEvents: {} as PushEvents,
  });
  for (const [name, value] of Object.entries(services))
    assert.equal(typeof value, "function", `services.${name} is a use case, not a dependency`);
  // Each service belongs to exactly one area, so an interface can ask for only the areas it uses.
  const areas = Object.values(SERVICE_AREAS).flat();
  assert.deepEqual([...areas].sort(), Object.keys(services).sort());
  const offenders = interfaceSources().filter((f) =>
    /\bRuntime\b/.test(readFileSync(f, "utf8").replace(/ServiceRuntime/g, "")),
  );
  assert.deepEqual(offenders, ["src/cli/context.ts"], "only the CLI's context builds a whole Runtime");
});

test("every source file opens with a one-line comment saying what it is for", () => {
  const offenders = sources("src").filter((f) => !/^\/\/ \S/.test(readFileSync(f, "utf8")));
  assert.deepEqual(offenders, []);
});

test("only the completion gate records a login as allowed (A4, G1)", () => {
  // The store takes an `allow` line only as a GatedAllow, which only completion-gate.ts makes; a cast elsewhere,
  // or a literal allow written another way, would be a second path around the re-checks at completion.
  const offenders: string[] = [];
  for (const file of sources("src")) {
    if (file === "src/core/completion-gate.ts") continue;
    const code = readFileSync(file, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    if (/\bas\s+GatedAllow\b/.test(code)) offenders.push(`${file}: makes a GatedAllow`);
    if (/\bresult:\s*["']allow["'][^}]*\bnode:/s.test(code)) offenders.push(`${file}: writes an allow line`);
    if (/insertInto\(\s*["']auth_log["']/.test(code) && file !== "src/store/aggregates/logs.ts")
      offenders.push(`${file}: writes auth_log directly`);
  }
  assert.deepEqual(offenders, []);
  // The interfaces complete logins only through the use cases that call the gate (never the store's log).
  const interfaces = sources("src").filter((f) => /^src\/(http|cli|radius|oidc)\//.test(f));
  const direct = interfaces.filter((f) => /\.appendAuthLog\(/.test(readFileSync(f, "utf8")));
  assert.deepEqual(direct, []);
  // And every use case that can allow a login goes through it.
  for (const file of [
    "src/core/use-cases/verify-passcode.ts",
    "src/core/use-cases/push.ts",
    "src/core/use-cases/auth-api.ts",
    "src/core/use-cases/webauthn.ts",
  ])
    assert.match(readFileSync(file, "utf8"), /completeAuthentication\(/, file);
});
