// Attacks on the Auth API on a fake clock: a server with users, signed requests from chosen peers, and the figures an attack gets (A6).
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import type { FastifyInstance } from "fastify";
import { decodeBSON } from "../../src/http/duo/bson.ts";
import { buildServer } from "../../src/http/server.ts";
import { ADMIN, createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../http/support.ts";
import type { DialectName } from "./stores.ts";

const HOST = "api.twofold.test";
export const USERS = 1000;
/** The reported attack: 3,660 requests in 16 minutes from one key. */
export const REQUESTS = 3660;
const STEP_MS = Math.round((16 * 60 * 1000) / REQUESTS);

interface Integration {
  ikey: string;
  skey: string;
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: a client's view of the envelope; each test checks what it uses.
  body: Record<string, any>;
}

export interface Harness {
  t(): HTTPTestContext;
  victims: readonly string[];
  code(username: "alice" | "bob"): string;
  integration(name: string): Promise<Integration>;
  post(key: Integration, path: string, params: Record<string, string>, peer: string): Promise<Answer>;
  guess(key: Integration, username: string, ipaddr: string, peer: string): Promise<Answer>;
  lockedUsers(names: readonly string[]): Promise<number>;
  attack(options: {
    key: Integration;
    targets: readonly string[];
    ipaddr: (n: number) => string;
    peer: string;
  }): Promise<{ accepted: number; throttled: number; legitimate: string[]; windows: number }>;
}

/**
 * A server with `users` users (1,000 unless told; no factor needed: a wrong passcode counts against any user) and two, alice and
 * bob, who log in with authenticator apps while the attacks run; `tests` adds the tests.
 */
export function suite(title: string, dialect: DialectName, tests: (h: Harness) => void, users = USERS): void {
  describe(title, () => {
    let t: HTTPTestContext;
    let app: FastifyInstance;
    let aliceCode: () => string;
    let bobCode: () => string;
    let portal: Integration | undefined;
    const victims = Array.from({ length: users }, (_, i) => `student${String(i).padStart(4, "0")}`);

    before(async () => {
      t = await createTestRuntime({ dialect });
      app = buildServer(t.runtime);
      await app.ready();
      await t.runtime.services.importUsers(
        ADMIN,
        victims.map((username, i) => ({ line: i + 1, username })),
      );
      aliceCode = (await enrollTOTPUser(t, "alice")).code;
      bobCode = (await enrollTOTPUser(t, "bob")).code;
    });

    after(async () => {
      await app?.close();
      await t?.close();
    });

    /** Another integration, whose users log in from their own addresses while an attack runs. */
    async function portalKey(): Promise<Integration> {
      portal ??= await integration("Portal");
      return portal;
    }

    async function integration(name: string): Promise<Integration> {
      const c = await t.runtime.services.createApplication(ADMIN, { name, type: "auth-api" });
      return { ikey: c.application.id, skey: c.secretKey.reveal() };
    }

    /** A signed form POST as Duo's Node client builds it, from `peer` (the integration's server). */
    async function post(
      key: Integration,
      path: string,
      params: Record<string, string>,
      peer: string,
    ): Promise<Answer> {
      const date = new Date(t.clock.now()).toUTCString();
      const res = await app.inject({
        method: "POST",
        url: path,
        remoteAddress: peer,
        headers: {
          host: HOST,
          date,
          authorization: sign(key.ikey, key.skey, "POST", HOST, path, params, date),
          "content-type": "application/x-www-form-urlencoded",
        },
        payload: new URLSearchParams(params).toString(),
      });
      const body = path.endsWith(".bson") ? decodeBSON(res.rawPayload) : JSON.parse(res.body);
      const retry = res.headers["retry-after"];
      return { status: res.statusCode, retryAfter: retry === undefined ? undefined : String(retry), body };
    }

    const guess = (key: Integration, username: string, ipaddr: string, peer: string) =>
      post(key, "/auth/v2/auth", { username, factor: "passcode", passcode: "000000", ipaddr }, peer);

    /** Users whose passcode factors are locked (the failure count reached the configured maximum). */
    async function lockedUsers(names: readonly string[]): Promise<number> {
      const max = t.runtime.config.policy.lockout.maxFailures;
      let locked = 0;
      for (const name of names) {
        const user = await t.runtime.services.findUser(name);
        const lockouts = await t.runtime.store.listLockouts(user!.id);
        if (lockouts.some((l) => l.failures >= max)) locked++;
      }
      return locked;
    }

    /**
     * Run an attack of REQUESTS wrong passcodes at the reported rate, round-robin over `targets`; every 200
     * requests alice (and bob through the attacked server) log in with their right codes from their own
     * addresses. Returns what the attacker got.
     */
    async function attack(options: {
      key: Integration;
      targets: readonly string[];
      ipaddr: (n: number) => string;
      peer: string;
    }): Promise<{ accepted: number; throttled: number; legitimate: string[]; windows: number }> {
      const windowMs = t.runtime.config.policy.throttle.windowSeconds * 1000;
      const started = t.clock.now();
      let accepted = 0;
      let throttled = 0;
      const legitimate: string[] = [];
      for (let n = 0; n < REQUESTS; n++) {
        t.clock.advance(STEP_MS);
        const target = options.targets[n % options.targets.length]!;
        const r = await guess(options.key, target, options.ipaddr(n), options.peer);
        if (r.status === 429) throttled++;
        else {
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.equal(r.body.response.result, "deny");
          accepted++;
        }
        if (n % 200 === 199) {
          // A user of another integration, from elsewhere, and one behind the attacked server itself.
          const own = await post(
            await portalKey(),
            "/auth/v2/auth",
            { username: "alice", factor: "passcode", passcode: aliceCode(), ipaddr: "192.0.2.10" },
            "198.51.100.77",
          );
          const behind = await post(
            options.key,
            "/auth/v2/auth",
            { username: "bob", factor: "passcode", passcode: bobCode(), ipaddr: "192.0.2.20" },
            options.peer,
          );
          legitimate.push(
            `${own.body.response?.result ?? own.status}/${behind.body.response?.result ?? behind.status}`,
          );
        }
      }
      // How many fixed counting windows the attack touched: each lets at most one limit's worth through.
      const windows = Math.floor(t.clock.now() / windowMs) - Math.floor(started / windowMs) + 1;
      return { accepted, throttled, legitimate, windows };
    }

    tests({
      t: () => t,
      victims,
      code: (username) => (username === "alice" ? aliceCode() : bobCode()),
      integration,
      post,
      guess,
      lockedUsers,
      attack,
    });
  });
}

export function report(
  dialect: string,
  what: string,
  r: { accepted: number; throttled: number },
  locked: number,
) {
  console.log(
    `[${dialect}] ${what}, ${REQUESTS} requests in 16 min: ${r.accepted} guesses accepted, ${r.throttled} throttled, ${locked} users locked`,
  );
}
