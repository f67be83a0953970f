// Rules for the browser code in web/ (docs/web.md): what it may import, who may import it, and one copy of the device protocol.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|import\s+["']([^"']+)["']/g,
  ))
    specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

/** The one module of src/ that browser code may use: it imports nothing, so it runs anywhere. */
const SHARED_WITH_BROWSER = "src/core/device-protocol.ts";

/**
 * The browser packages web/ may bundle, each by the one module that wraps it: @simplewebauthn/browser turns the
 * server's JSON options into navigator.credentials calls and back (made for the field; docs/dependencies.md).
 */
const BUNDLED_PACKAGES: Record<string, string> = {
  "@simplewebauthn/browser": "web/shared/behaviours/webauthn.ts",
};

test("web/ imports only web/ and the device protocol's texts: no packages, no Node, no server code", () => {
  const offenders: string[] = [];
  for (const file of sources("web"))
    for (const spec of importsOf(file)) {
      if (BUNDLED_PACKAGES[spec] === file) continue;
      const target = spec.startsWith(".") ? relative(".", join(file, "..", spec)) : spec;
      if (!(target.startsWith("web/") || target === SHARED_WITH_BROWSER)) offenders.push(`${file} → ${spec}`);
    }
  assert.deepEqual(offenders, []);
  assert.deepEqual(importsOf(SHARED_WITH_BROWSER), [], "the shared protocol module imports nothing");
});

test("the server uses only web/shared and the UIs' server-rendered pages (web/<ui>/pages/), never browser code", () => {
  const offenders: string[] = [];
  for (const file of sources("src"))
    for (const spec of importsOf(file)) {
      const target = spec.startsWith(".") ? relative(".", join(file, "..", spec)) : spec;
      const allowed = target.startsWith("web/shared/") || /^web\/[a-z-]+\/pages\//.test(target);
      if (target.startsWith("web/") && !allowed) offenders.push(`${file} → ${spec}`);
    }
  assert.deepEqual(offenders, []);
});

test("server-rendered pages (web/<ui>/pages/) import no behaviours: a page is markup, its behaviour a separate bundle", () => {
  const offenders: string[] = [];
  for (const file of sources("web").filter((f) => /^web\/[a-z-]+\/pages\//.test(f)))
    for (const spec of importsOf(file)) {
      const target = spec.startsWith(".") ? relative(".", join(file, "..", spec)) : spec;
      if (target.includes("/behaviours/")) offenders.push(`${file} → ${spec}`);
    }
  assert.deepEqual(offenders, []);
});

test("the device protocol's signed texts are written once, for the server, the CLI client and the web app", () => {
  for (const marker of ["twofold-device-request/1", "twofold-push-answer/1"]) {
    const holders = [...sources("src"), ...sources("web")].filter((f) =>
      readFileSync(f, "utf8").includes(marker),
    );
    assert.deepEqual(holders, [SHARED_WITH_BROWSER], marker);
  }
  // And each of the three signers builds its text from it.
  for (const user of [
    "src/core/use-cases/devices.ts",
    "src/core/use-cases/push.ts",
    "src/client/device-client.ts",
    "web/authenticator/device-client.ts",
  ])
    assert.ok(
      importsOf(user).some((s) => s.endsWith("device-protocol.ts")),
      `${user} uses ${SHARED_WITH_BROWSER}`,
    );
});

test("the built bundles stay within their size budgets (gzip), and use no eval or HTML sinks", () => {
  // Budgets leave about a third of headroom over today's sizes (docs/web.md § Build).
  const budgets: Record<string, number> = {
    "authenticator/app.js": 17_000,
    "authenticator/sw.js": 6_000,
    "authenticator/app.css": 2_500,
  };
  const manifest = JSON.parse(readFileSync("dist/web/manifest.json", "utf8")) as {
    outputs: Record<string, number>;
    assets: Record<string, string>;
  };
  // Fingerprinted behaviours, by their source (the WebAuthn one carries @simplewebauthn/browser: 3,459 B today).
  const webauthn = manifest.assets["shared/behaviours/webauthn.ts"]?.replace("/assets/web/", "assets/");
  assert.ok(webauthn, "the webauthn behaviour is built");
  budgets[webauthn] = 6_000;
  for (const [file, budget] of Object.entries(budgets)) {
    assert.ok(file in manifest.outputs, `${file} is built`);
    const body = readFileSync(join("dist/web", file));
    const size = gzipSync(body, { level: 9 }).length;
    console.log(`${file}: ${body.length} bytes, ${size} gzip (budget ${budget})`);
    assert.ok(size <= budget, `${file} is ${size} bytes gzipped, over its budget of ${budget}`);
    if (file.endsWith(".js"))
      assert.doesNotMatch(
        body.toString("utf8"),
        /\beval\(|new Function\(|\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML/,
      );
  }
});

test("every .tsx file names our JSX runtime itself, so it renders whichever tsconfig the loader finds", () => {
  const tsx = [...sources("web"), ...sources("src")].filter((f) => f.endsWith(".tsx"));
  assert.ok(tsx.length > 0);
  const offenders = tsx.filter((f) => {
    const text = readFileSync(f, "utf8");
    return !text.includes("/** @jsxRuntime automatic */") || !text.includes("/** @jsxImportSource #jsx */");
  });
  assert.deepEqual(offenders, []);
});
