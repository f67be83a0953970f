// Another Twofold node in its own process, on the same PostgreSQL schema: runs outbox passes on request ("run" on stdin), so a test can kill it mid-send.
import { createInterface } from "node:readline";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { createRuntime } from "../../src/runtime/runtime.ts";

const { overrides, schema } = JSON.parse(process.argv[2]!) as {
  overrides: Record<string, unknown>;
  schema: string;
};
const runtime = await createRuntime(loadConfig({ env: {}, overrides }), {
  schema,
  logger: createLogger({ level: "silent", node: "node-a" }),
});
const say = (m: unknown) => process.stdout.write(`${JSON.stringify(m)}\n`);
say({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "run") runtime.services.runOutbox(1).then(say, (e: Error) => say({ error: e.message }));
  if (line === "close") break;
}
await runtime.close();
