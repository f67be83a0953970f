// Duo clients as they really are, over real sockets on both databases: localised duo_unix dates, host names in ipaddr, the same request twice within one second, undated signatures (K2).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { decodeBSON } from "../../src/http/duo/bson.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { createRuntime } from "../../src/runtime/runtime.ts";
import { ADMIN, createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../http/support.ts";
import { dialects } from "../support/stores.ts";
import { TestDevice } from "../support/test-device.ts";

interface Integration {
  ikey: string;
  skey: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: a client's view of the envelope; each test checks what it uses.
  body: Record<string, any>;
}

const API_HOST = "duo.twofold.test";

interface SignedCall {
  method: "GET" | "POST";
  path: string;
  /** Sorted, plain ASCII names and values: the wire form is the canonical line. */
  params: string;
  /** The date's bytes exactly as the client writes them; null: undated (variant L, SHA-1, duo_unix 1.x). */
  date: Buffer | null;
}

/**
 * Sign and send like duo_unix: the canonical lines joined by `\n`, the date as the raw bytes strftime wrote, sent
 * in `X-Duo-Date` (Node's HTTP client writes header strings as latin1, so the bytes go out unchanged).
 */
function send(baseURL: string, key: Integration, call: SignedCall): Promise<Answer> {
  const url = new URL(baseURL);
  // One API host name for every node, as behind a load balancer: the host line is the same whichever node answers.
  const rest = [call.method, API_HOST, call.path, call.params].join("\n");
  const canonical =
    call.date === null ? Buffer.from(rest) : Buffer.concat([call.date, Buffer.from(`\n${rest}`)]);
  const digest = createHmac(call.date === null ? "sha1" : "sha512", key.skey)
    .update(canonical)
    .digest("hex");
  const headers: Record<string, string> = {
    host: API_HOST,
    authorization: `Basic ${Buffer.from(`${key.ikey}:${digest}`).toString("base64")}`,
    ...(call.date === null ? {} : { "x-duo-date": call.date.toString("latin1") }),
    ...(call.method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
  };
  const path = call.method === "GET" && call.params ? `${call.path}?${call.params}` : call.path;
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method: call.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks);
        const body = call.path.endsWith(".bson") ? decodeBSON(raw) : JSON.parse(raw.toString("utf8"));
        resolve({ status: res.statusCode!, headers: res.headers, body: body as Answer["body"] });
      });
    });
    req.on("error", reject);
    req.end(call.method === "POST" ? call.params : undefined);
  });
}

/** `strftime("%a, %d %b %Y %T %z")` of an instant in a zone `offsetMinutes` east of UTC, with a locale's names. */
function strftime(
  at: number,
  offsetMinutes: number,
  names: { days: string[]; months: string[] },
  encoding: BufferEncoding = "utf8",
): Buffer {
  const local = new Date(at + offsetMinutes * 60_000);
  const two = (n: number) => String(n).padStart(2, "0");
  const sign = offsetMinutes < 0 ? "-" : "+";
  const offset = `${sign}${two(Math.floor(Math.abs(offsetMinutes) / 60))}${two(Math.abs(offsetMinutes) % 60)}`;
  const text =
    `${names.days[local.getUTCDay()]}, ${two(local.getUTCDate())} ${names.months[local.getUTCMonth()]} ` +
    `${local.getUTCFullYear()} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())} ${offset}`;
  return Buffer.from(text, encoding);
}

/** glibc 2.36's `%a` and `%b` (test/vectors/glibc-2.36-strftime-localised-dates.json has every month). */
const LOCALES = {
  de_DE: {
    days: ["So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"],
    months: ["Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"],
  },
  fr_FR: {
    days: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
    months: [
      "janv.",
      "févr.",
      "mars",
      "avril",
      "mai",
      "juin",
      "juil.",
      "août",
      "sept.",
      "oct.",
      "nov.",
      "déc.",
    ],
  },
  zh_TW: {
    days: ["日", "一", "二", "三", "四", "五", "六"],
    months: [" 1月", " 2月", " 3月", " 4月", " 5月", " 6月", " 7月", " 8月", " 9月", "10月", "11月", "12月"],
  },
  ru_RU: {
    days: ["Вс", "Пн", "Вт", "Ср", "Чт", "Пт", "Сб"],
    months: ["янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"],
  },
};

for (const dialect of await dialects()) {
  describe(`Duo clients as they really are (${dialect})`, () => {
    let t: HTTPTestContext;
    let server: RunningServer;
    let url: string;
    let unix: Integration;
    let device: TestDevice;

    before(async () => {
      t = await createTestRuntime({ dialect });
      server = await startServer(t.runtime);
      url = server.url;
      const created = await t.runtime.services.createApplication(ADMIN, { name: "Linux", type: "unix" });
      unix = { ikey: created.application.id, skey: created.secretKey.reveal() };
      await enrollTOTPUser(t, "alice");
      await t.runtime.services.createUser(ADMIN, { username: "bob" });
      device = new TestDevice(server.url, () => t.clock.now());
      const ticket = await t.runtime.services.createDeviceActivation(ADMIN, "bob");
      assert.equal((await device.activate(ticket.token.reveal())).status, 200);
    });

    after(async () => {
      await server?.close();
      await t?.close();
    });

    const check = (date: Buffer) =>
      send(url, unix, { method: "GET", path: "/auth/v2/check", params: "", date });

    test("duo_unix 2.1–2.2.3 localised X-Duo-Date (de_DE, fr_FR, zh_TW, ru_RU; UTF-8 and ISO-8859-1) is accepted", async () => {
      const now = t.clock.now();
      const dates = [
        strftime(now, 60, LOCALES.de_DE),
        strftime(now, 60, LOCALES.de_DE, "latin1"),
        strftime(now, -300, LOCALES.fr_FR),
        strftime(now, 480, LOCALES.zh_TW),
        strftime(now, 180, LOCALES.ru_RU),
      ];
      for (const date of dates) {
        const r = await check(date);
        assert.equal(r.status, 200, `${date.toString("utf8")}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body["response"]["time"], Math.floor(now / 1000));
      }
    });

    test("a localised date with the wrong offset is refused as skewed (401 40105); a month name nobody writes as malformed (40104)", async () => {
      const now = t.clock.now();
      // Local time of UTC+1 labelled +0000, and of UTC-5 labelled -0800: one and three hours off.
      const wrong = [
        Buffer.from(
          strftime(now, 60, LOCALES.de_DE)
            .toString("utf8")
            .replace(/\+0100$/, "+0000"),
        ),
        Buffer.from(
          strftime(now, -300, LOCALES.fr_FR)
            .toString("utf8")
            .replace(/-0500$/, "-0800"),
        ),
        Buffer.from(
          strftime(now, 480, LOCALES.zh_TW)
            .toString("utf8")
            .replace(/\+0800$/, "+0200"),
        ),
      ];
      for (const date of wrong) {
        const r = await check(date);
        assert.deepEqual([r.status, r.body["code"]], [401, 40105], date.toString("utf8"));
      }
      const unknownMonth = strftime(now, 0, { ...LOCALES.de_DE, months: Array(12).fill("Xyz") });
      const r = await check(unknownMonth);
      assert.deepEqual([r.status, r.body["code"]], [401, 40104]);
    });

    test("pam_duo's host name in ipaddr (sshd UseDNS yes) is accepted as no address known; junk is still 400", async () => {
      const date = () => strftime(t.clock.now(), 0, LOCALES.de_DE);
      for (const [path, params] of [
        ["/auth/v2/preauth", "ipaddr=client7.example.org&username=alice"],
        ["/rest/v1/preauth.json", "ipaddr=client7.example.org&user=alice"],
      ] as const) {
        const r = await send(url, unix, { method: "POST", path, params, date: date() });
        assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body["response"]["result"], "auth");
      }
      t.clock.advance(1000);
      const alice = await t.runtime.services.requireUser("alice");
      const login = await send(url, unix, {
        method: "POST",
        path: "/auth/v2/auth",
        params: "factor=passcode&ipaddr=client7.example.org&passcode=000000&username=alice",
        date: date(),
      });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal(login.body["response"]["result"], "deny");
      const { entries } = await t.runtime.store.listAuthLog({
        minTime: 0,
        maxTime: Number.MAX_SAFE_INTEGER,
        limit: 1,
        order: "desc",
        userIds: [alice.id],
      });
      assert.equal(entries[0]?.ip, null, "no address is recorded for a host name");
      const junk = await send(url, unix, {
        method: "POST",
        path: "/auth/v2/preauth",
        params: "ipaddr=not%20a%20host&username=alice",
        date: date(),
      });
      assert.deepEqual([junk.status, junk.body["code"], junk.body["message_detail"]], [400, 40002, "ipaddr"]);
    });

    test("the same signed /auth twice within one second: 429 Retry-After 1 (duo_unix ≥ 2.1 signs again); the same bytes later: 409; one push", async () => {
      t.clock.advance(5000);
      const push: SignedCall = {
        method: "POST",
        path: "/auth/v2/auth",
        params: "async=1&device=auto&factor=push&username=bob",
        date: strftime(t.clock.now(), 0, LOCALES.de_DE),
      };
      const [a, b] = await Promise.all([send(url, unix, push), send(url, unix, push)]);
      const answers = [a, b].sort((x, y) => x.status - y.status);
      assert.equal(answers[0]!.status, 200, JSON.stringify(answers[0]!.body));
      assert.ok(answers[0]!.body["response"]["txid"]);
      const retry = answers[1]!;
      assert.deepEqual([retry.status, retry.body["code"], retry.headers["retry-after"]], [429, 42901, "1"]);
      // One second on, the same bytes (an SDK resending after its back-off, or a replay): refused outright.
      t.clock.advance(1000);
      const again = await send(url, unix, push);
      assert.deepEqual([again.status, again.body["code"]], [409, 40901]);
      const bob = await t.runtime.services.requireUser("bob");
      assert.equal((await t.runtime.store.listPushTransactions(bob.id, 0)).length, 1, "one push");
      // What duo_unix ≥ 2.1 does after the 429: the same call with a new date, which is a new request.
      const resigned = await send(url, unix, { ...push, date: strftime(t.clock.now(), 0, LOCALES.de_DE) });
      assert.equal(resigned.status, 200, JSON.stringify(resigned.body));
    });

    test("undated signatures: accepted by default; an identical one within the window is refused on any node; the setting refuses all", async () => {
      const auth: SignedCall = {
        method: "POST",
        path: "/rest/v1/auth.bson",
        params: "async=0&auto=000000&factor=auto&user=nobody",
        date: null,
      };
      // A second node: its own runtime and connections over the same database.
      const nodeB = await createRuntime(t.runtime.config, {
        clock: t.clock,
        logger: createLogger({ level: "fatal", node: "node-b", destination: { write: () => undefined } }),
        ...(t.schema ? { schema: t.schema } : {}),
      });
      const serverB = await startServer(nodeB);
      try {
        t.clock.advance(10_000);
        const both = await Promise.all([send(url, unix, auth), send(serverB.url, unix, auth)]);
        const statuses = both.map((r) => r.status).sort();
        assert.deepEqual(statuses, [200, 429], JSON.stringify(both.map((r) => r.body)));
        assert.equal(both.find((r) => r.status === 200)!.body["response"]["result"], "deny");
        t.clock.advance(1500);
        const later = await send(serverB.url, unix, auth);
        assert.deepEqual([later.status, later.body["code"]], [409, 40901]);
        // After the window an identical undated request is a new login again (duo_unix signs the same bytes).
        t.clock.advance(1000);
        assert.equal((await send(serverB.url, unix, auth)).status, 200);
        console.log(
          `undated duplicates: ${statuses.join(" + ")} at once on two nodes, 409 at +1.5 s, 200 at +2.5 s`,
        );
      } finally {
        await serverB.close();
        await nodeB.close();
      }

      const preauth: SignedCall = {
        method: "POST",
        path: "/rest/v1/preauth.bson",
        params: "failmode=closed&hostname=web01&user=alice",
        date: null,
      };
      assert.equal((await send(url, unix, preauth)).status, 200);
      await t.runtime.services.updateApplication(ADMIN, unix.ikey, {
        policy: { refuseUndatedSignatures: true },
      });
      try {
        const refused = await send(url, unix, preauth);
        // A 403 is a deny in every duo_unix; a 401 would let the user in under failmode=safe.
        assert.deepEqual([refused.status, refused.body["code"]], [403, 40301]);
        assert.match(refused.body["message_detail"], /without a date/);
        // Dated requests of the same integration are unaffected.
        const dated = await send(url, unix, {
          ...preauth,
          path: "/rest/v1/preauth.json",
          date: strftime(t.clock.now(), 0, LOCALES.de_DE),
        });
        assert.equal(dated.status, 200);
      } finally {
        await t.runtime.services.updateApplication(ADMIN, unix.ikey, {
          policy: { refuseUndatedSignatures: false },
        });
      }
    });
  });
}
