// Where Twofold is installed (the folder of its package.json), for the files it reads at run time, from src/ or dist/.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The nearest folder above this module that holds a package.json: the checkout when run from src/ (tests, tsx),
 * and the same folder when run from the build, whose files all sit in dist/ wherever this module ends up.
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(import.meta.dirname);

/** A path inside the package, e.g. `packagePath("src", "http", "authenticator")`. */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}

let cachedVersion: string | undefined;
/** The version in package.json, read once. */
export function readPackageVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { version: string })
    .version;
  return cachedVersion;
}
