// Log lines are written in batches off the request path, yet reach the file within a quarter second when traffic is
// light, and what is still waiting is written when the process exits, also when it crashes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, isoTime, logDestination } from "../../src/runtime/logger.ts";

const dir = mkdtempSync(join(tmpdir(), "twofold-log-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; passcode?: string });

test("a single line reaches the file within the flush interval; a burst goes out in few writes", async () => {
  const file = join(dir, "light.log");
  const destination = logDestination(file);
  const logger = createLogger({ level: "info", node: "n1", destination });
  logger.info({ passcode: "123456" }, "one line");
  // Not written at once (it waits for more, up to a quarter second)...
  const deadline = Date.now() + 2000;
  let seen: ReturnType<typeof lines> = [];
  while (Date.now() < deadline) {
    await sleep(25);
    try {
      seen = lines(file);
    } catch {
      seen = [];
    }
    if (seen.length > 0) break;
  }
  // ...but within the interval, and still redacted.
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.msg, "one line");
  assert.equal(seen[0]!.passcode, "[redacted]");
  for (let i = 0; i < 1000; i++) logger.info({ i }, "burst");
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  await sleep(300);
  assert.equal(lines(file).length, 1001);
  (destination as unknown as { end(): void }).end();
});

test("lines still waiting are written when the process exits, and when it crashes", () => {
  for (const ending of ["exit", "crash"]) {
    const file = join(dir, `${ending}.log`);
    const script = `
      import { createLogger, logDestination } from ${JSON.stringify(new URL("../../src/runtime/logger.ts", import.meta.url).href)};
      const destination = logDestination(${JSON.stringify(file)});
      destination.once("ready", () => {
        const logger = createLogger({ level: "info", node: "n1", destination });
        logger.info("last words before ${ending}");
        ${ending === "crash" ? 'throw new Error("boom");' : "process.exit(0);"}
      });
    `;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.equal(r.status, ending === "crash" ? 1 : 0, r.stderr);
    assert.deepEqual(
      lines(file).map((l) => l.msg),
      [`last words before ${ending}`],
    );
  }
});

test("each line's time is the ISO 8601 instant pino would write, to the millisecond", () => {
  const realNow = Date.now;
  try {
    for (const at of [
      0, 7, 45, 999, 1_000, 1_764_884_254_003, 1_764_884_254_090, 1_764_884_254_999, 1_764_884_255_000,
    ]) {
      Date.now = () => at;
      assert.equal(isoTime(), `,"time":"${new Date(at).toISOString()}"`);
    }
  } finally {
    Date.now = realNow;
  }
});
