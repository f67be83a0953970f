// Builds core dependencies over a real test database, with a test clock and a fresh keyring.
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { Keyring } from "../../src/core/crypto/keyring.ts";
import type { Store } from "../../src/core/ports.ts";
import { createServices, type Services } from "../../src/core/services.ts";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { TestClock } from "./clock.ts";
import { createTestDatabase, type DialectName, type TestDatabase } from "./stores.ts";

export interface TestContext {
  db: TestDatabase;
  store: KyselyStore;
  clock: TestClock;
  keyring: Keyring;
  /** The keyring's master key, for other threads that open the same database. */
  keyringKey: Uint8Array;
  config: Readonly<Config>;
  services: Services;
  close(): Promise<void>;
}

export async function createTestContext(
  dialect: DialectName,
  overrides: Record<string, unknown> = {},
  /** A clock of the caller's (a RunningClock for a benchmark); by default one that stands still. */
  clock: TestClock = new TestClock(),
): Promise<TestContext> {
  const db = await createTestDatabase(dialect);
  const store = await db.open();
  const keyringKey = randomBytes(32);
  const keyring = new Keyring([{ id: "t1", key: keyringKey }]);
  const config = loadConfig({
    env: {},
    overrides: { mode: "demo", "organization.country": "HK", ...overrides },
  });
  const services = createServices({
    store,
    keyring,
    clock,
    config,
    nodeName: "test-node",
    pushEvents: new LocalPushEvents(),
  });
  return {
    db,
    store,
    clock,
    keyring,
    keyringKey,
    config,
    services,
    close: async () => {
      await store.close();
      await db.drop();
    },
  };
}

/**
 * The services of another node over the same database: its own caches, nothing read by `t`'s. `around`, given,
 * wraps each call of the store methods it names (to record them, or to change something just before them).
 */
export function servicesOfAnotherNode(
  t: TestContext,
  nodeName: string,
  around?: {
    methods: readonly string[];
    call: (method: string, run: () => Promise<unknown>) => Promise<unknown>;
  },
): Services {
  const store = new Proxy(t.store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (typeof prop === "string" && around?.methods.includes(prop))
        return (...args: unknown[]) => around.call(prop, async () => value.apply(target, args));
      return value.bind(target);
    },
  }) as Store;
  return createServices({
    store,
    keyring: t.keyring,
    clock: t.clock,
    config: t.config,
    nodeName,
    pushEvents: new LocalPushEvents(),
  });
}
