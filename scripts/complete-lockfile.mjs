// Completes package-lock.json with the lock entries of @biomejs/biome platform packages the package mirror does not serve
// (npm then leaves them out, and `npm ci` refuses the lock). Run after `npm install` changes the lock: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const platforms = {
  "win32-x64": ["win32", "x64"],
  "win32-arm64": ["win32", "arm64"],
  "darwin-x64": ["darwin", "x64"],
  "darwin-arm64": ["darwin", "arm64"],
  "linux-x64-musl": ["linux", "x64", "musl"],
  "linux-arm64-musl": ["linux", "arm64", "musl"],
  "android-x64": ["android", "x64"],
  "android-arm64": ["android", "arm64"],
};
const version = lock.packages["node_modules/@biomejs/biome"].version;
for (const [name, [os, cpu, libc]] of Object.entries(platforms)) {
  const key = `node_modules/@biomejs/cli-${name}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = {
    version,
    cpu: [cpu],
    dev: true,
    ...(libc ? { libc: [libc] } : {}),
    license: "MIT OR Apache-2.0",
    optional: true,
    os: [os],
    engines: { node: ">=14.21.3" },
  };
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
