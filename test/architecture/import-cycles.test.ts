// No import cycle under src/: every module can be read, tested and loaded after the modules it uses.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { test } from "node:test";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** The files a module imports by relative path (static, type-only, dynamic and re-exports alike). */
function relativeImportsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const targets: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
  )) {
    const spec = (m[1] ?? m[2])!;
    if (spec.startsWith(".")) targets.push(normalize(join(dirname(file), spec)));
  }
  return targets;
}

/** Every cycle a depth-first walk meets, each written `a → b → a`. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const cycles: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") cycles.push([...path.slice(path.indexOf(next)), next].join(" → "));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

test("the cycle walk finds a cycle through type-only imports and through several files", () => {
  assert.deepEqual(
    findCycles(
      new Map([
        ["a.ts", ["b.ts"]],
        ["b.ts", ["c.ts"]],
        ["c.ts", ["a.ts"]],
        ["d.ts", ["a.ts"]],
      ]),
    ),
    ["a.ts → b.ts → c.ts → a.ts"],
  );
  assert.deepEqual(
    findCycles(
      new Map([
        ["a.ts", ["b.ts"]],
        ["b.ts", []],
      ]),
    ),
    [],
  );
});

test("no module under src/ imports itself through other modules", () => {
  const graph = new Map(sources("src").map((file) => [file, relativeImportsOf(file)] as const));
  assert.ok(graph.size > 50, "the walk saw the source tree");
  assert.deepEqual(findCycles(graph), []);
});
