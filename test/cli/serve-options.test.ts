// `twofold serve --host H --port N` listen where asked; `push send` exits with the codes its --help and the README list.
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSandbox, type Sandbox } from "./helpers.ts";

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

describe("serve options and push send exit codes", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("serve --host and --port win over the configuration, and a bad port is a usage error", async () => {
    const port = await freePort();
    // The configuration says 8080 on every address: the options must win.
    const child = box.spawn(["serve", "--host", "127.0.0.1", "--port", String(port)], {
      TWOFOLD_SERVER_HOST: "0.0.0.0",
      TWOFOLD_SERVER_PORT: "8080",
    });
    try {
      const line = await new Promise<string>((resolvePrinted, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`nothing printed in 30 s: ${out}`)), 30_000);
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening on (\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolvePrinted(m[1]!);
          }
        });
      });
      assert.equal(line, `http://127.0.0.1:${port}`);
      assert.equal((await fetch(`${line}/health`)).status, 200);
    } finally {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    for (const bad of [
      ["--port", "http"],
      ["--port", "70000"],
      ["--host", ""],
    ]) {
      const r = await box.run(["serve", ...bad]);
      assert.equal(r.code, 2, bad.join(" "));
      assert.match(r.stderr, /^error: --(port|host) must/);
    }
  });

  test("push send --help and the README list the same exit codes, and the command exits with them", async () => {
    const help = (await box.run(["push", "send", "--help"])).stdout;
    const readme = readFileSync(resolve(import.meta.dirname, "../../README.md"), "utf8").replaceAll("`", "");
    for (const code of ["0", "1", "2", "3"]) {
      const meaning = new RegExp(`^  ${code}  (.+)$`, "m").exec(help)?.[1];
      assert.ok(meaning, `--help lists exit code ${code}`);
      assert.ok(
        readme.includes(`| ${code} | ${meaning} |`),
        `the README lists exit code ${code}: ${meaning}`,
      );
    }
    await box.json(["user", "add", "erin"]);
    assert.equal((await box.run(["push", "send", "erin"])).code, 3, "no activated device: not sent");
    assert.equal((await box.run(["push", "send", "nobody"])).code, 3, "unknown user: not sent");
    assert.equal((await box.run(["push", "send", "erin", "--wait", "soon"])).code, 2, "usage error");
  });
});
