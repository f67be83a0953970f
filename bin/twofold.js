#!/usr/bin/env node
// Entry point of the `twofold` command: runs the CLI built into dist/ (`npm install` and `npm run build` build it).
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("error: twofold is not built: dist/cli.js is missing\nhint: run npm run build\n");
  process.exit(1);
}
// Stack traces name the TypeScript files and lines (dist/*.js.map) when asked for; mapping costs start-up time.
if (process.env.TWOFOLD_DEBUG === "1") process.setSourceMapsEnabled(true);
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
