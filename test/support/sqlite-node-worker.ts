// A second "node" on the same SQLite file, in its own thread with its own connection: verifies passcodes on request.

import { parentPort, workerData } from "node:worker_threads";
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Keyring } from "../../src/core/crypto/keyring.ts";
import { createServices } from "../../src/core/services.ts";
import { openStore } from "../../src/store/open-store.ts";
import { TestClock } from "./clock.ts";

const { file, key, now } = workerData as { file: string; key: Uint8Array; now: number };
const { store } = await openStore({ sqlitePath: file, backgroundCheckpoints: false });
const clock = new TestClock(now);
const services = createServices({
  store,
  keyring: new Keyring([{ id: "t1", key }]),
  clock,
  config: loadConfig({ env: {}, overrides: { mode: "demo" } }),
  nodeName: "worker",
  pushEvents: new LocalPushEvents(),
});

parentPort!.on("message", async (m: { username: string; passcode: string; count: number } | "close") => {
  if (m === "close") {
    await store.close();
    parentPort!.close();
    return;
  }
  const results = await Promise.all(
    Array.from({ length: m.count }, () =>
      services.verifyPasscode({ username: m.username, passcode: m.passcode }),
    ),
  );
  parentPort!.postMessage(results.map((r) => r.result));
});
parentPort!.postMessage("ready");
