// Architecture rules from DESIGN.md §2 and STYLE.md: dependencies point inward, one crypto module, no Math.random.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";

function sources(dir: string): string[] {
  // A layer with no code yet (src/adapters, src/radius) has no folder in a fresh clone.
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Every module specifier a file imports (static, dynamic and re-exports). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
  )) {
    specs.push((m[1] ?? m[2])!);
  }
  return specs;
}

const core = sources("src/core");

test("src/core imports nothing outside src/core except pure libraries", () => {
  const allowedPackages = new Set(["@xmldom/xmldom"]);
  const offenders: string[] = [];
  for (const file of core) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith(".")) {
        const target = relative(".", join(file, "..", spec));
        if (!target.startsWith("src/core/")) offenders.push(`${file} → ${spec}`);
      } else if (spec.startsWith("node:")) {
        if (spec !== "node:crypto") offenders.push(`${file} → ${spec}`);
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
  ])
    assert.match(readFileSync(file, "utf8"), /completeAuthentication\(/, file);
});
