// N1: full phone numbers live only in their own rows; audit details and log lines carry the last four digits.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import * as duoSig from "@duosecurity/duo_api/lib/duo_sig.js";
import { maskPhone } from "../../src/core/mask-phone.ts";
import { buildServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { openStore } from "../../src/store/open-store.ts";
import { createSandbox } from "../cli/helpers.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { dialects } from "../support/stores.ts";

/** Every spelling of a number someone could grep for: as written, and its digits alone. */
function spellings(number: string): string[] {
  return [number, number.replace(/[^0-9]/g, "")];
}

function assertNoFullNumbers(where: string, texts: readonly string[], numbers: readonly string[]): void {
  for (const number of numbers)
    for (const spelling of spellings(number)) {
      const hits = texts.filter((t) => t.includes(spelling));
      assert.deepEqual(hits, [], `${where} contains ${spelling}`);
    }
}

test("maskPhone keeps the last four digits and the shape", async () => {
  assert.equal(maskPhone("+886912345678"), "+********5678");
  assert.equal(maskPhone("+1 (555) 123-4567"), "+* (***) ***-4567");
  assert.equal(maskPhone("1234"), "****");
  assert.equal(maskPhone(""), "");
});

test("log fields named phone or number are written masked, wherever they are", async () => {
  const lines: string[] = [];
  const log = createLogger({
    level: "debug",
    node: "n",
    destination: { write: (m: string) => lines.push(m) },
  });
  log.info({
    phone: "+886912345678",
    user: { phone: "+886912345679" },
    req: { body: { number: "+15551234567" } },
  });
  assertNoFullNumbers("log", lines, ["+886912345678", "+886912345679", "+15551234567"]);
  assert.match(lines.join(""), /\+\*{8}5678/);
  assert.match(lines.join(""), /\+\*{7}4567/);
});

for (const dialect of await dialects()) {
  describe(`Admin API and services on ${dialect}: audit rows and logs carry no full phone number`, () => {
    let t: HTTPTestContext | undefined;
    after(() => t?.close());

    test("users and phones created, changed, attached and deleted", async () => {
      t = await createTestRuntime({ dialect, logLevel: "debug" });
      const app = buildServer(t.runtime);
      await app.ready();
      const { services } = t.runtime;
      const c = await services.createApplication(ADMIN, { name: "directory sync", type: "admin-api" });
      const keys = { ikey: c.application.id, skey: c.secretKey.reveal() };
      let second = 0;
      const admin = async (
        method: "GET" | "POST" | "DELETE",
        path: string,
        params: Record<string, string>,
      ) => {
        // A distinct Date per request: a signed change seen again is refused as a replay.
        const date = new Date(t!.clock.now() - 1000 * second++).toUTCString();
        const authorization = duoSig.sign(keys.ikey, keys.skey, method, "localhost", path, params, date);
        const qs = duoSig._canonParams(params);
        const r = await app.inject({
          method,
          url: method === "POST" || !qs ? path : `${path}?${qs}`,
          headers: {
            host: "localhost",
            date,
            authorization,
            ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          },
          ...(method === "POST" ? { payload: qs } : {}),
        });
        assert.equal(r.statusCode, 200, `${method} ${path}: ${r.body}`);
        return JSON.parse(r.body).response;
      };

      const numbers = ["+15551234567", "+15557654321", "+886912345678", "+886987654321"];
      const user = await admin("POST", "/admin/v1/users", { username: "dana" });
      const phone = await admin("POST", "/admin/v1/phones", { number: numbers[0]!, type: "mobile" });
      assert.equal(phone.number, numbers[0], "the phone's own row keeps the full number");
      await admin("POST", `/admin/v1/phones/${phone.phone_id}`, { number: numbers[1]! });
      const found = await admin("GET", "/admin/v1/phones", { number: numbers[1]! });
      assert.equal(found.length, 1);
      await admin("POST", `/admin/v1/users/${user.user_id}/phones`, { phone_id: phone.phone_id });
      await admin("DELETE", `/admin/v1/users/${user.user_id}/phones/${phone.phone_id}`, {});
      await admin("DELETE", `/admin/v1/phones/${phone.phone_id}`, {});
      // Users with a phone on their record, made and removed through the services the CLI uses.
      await services.createUser(ADMIN, { username: "erin", phone: numbers[2]! });
      await services.deleteUser(ADMIN, "erin");
      await services.importUsers(ADMIN, [{ line: 2, username: "fay", phone: numbers[3]! }]);
      await app.close();

      const events = await t.runtime.store.listAudit({ limit: 1000 });
      const rows = events.map((e) => JSON.stringify(e));
      assertNoFullNumbers("audit log", rows, numbers);
      assertNoFullNumbers("log", t.logs, numbers);
      assert.ok(t.logs.length > 5, "the requests were logged");
      // Still useful: the service desk can match a row to a phone by its last four digits.
      const created = events.find((e) => e.action === "phone.create");
      assert.equal((created?.after as { number?: string } | undefined)?.number, "+*******4567");
      const updated = events.find((e) => e.action === "phone.update");
      assert.deepEqual(
        [
          (updated?.before as { number?: string } | undefined)?.number,
          (updated?.after as { number?: string } | undefined)?.number,
        ],
        ["+*******4567", "+*******4321"],
      );
      const erin = events.find(
        (e) => e.action === "user.create" && (e.after as { username?: string }).username === "erin",
      );
      assert.equal((erin?.after as { phone?: string } | undefined)?.phone, "+********5678");
    });
  });
}

test("CLI: user add, import and delete with phones leave no full number in audit rows or logs", async () => {
  const box = createSandbox();
  try {
    const env = { TWOFOLD_LOGGING_LEVEL: "debug" };
    const numbers = ["+886911111234", "+886922225678", "+886933339012"];
    const outputs: string[] = [];
    const run = async (args: string[]) => {
      const r = await box.run(args, { env });
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      outputs.push(r.stderr);
    };
    await run(["user", "add", "gil", "--phone", numbers[0]!]);
    const csv = join(box.dir, "users.csv");
    writeFileSync(csv, `username,email,name,phone\nhal,,,${numbers[1]}\nivy,,,${numbers[2]}\n`);
    await run(["user", "import", csv]);
    await run(["user", "delete", "gil", "--yes"]);
    await run(["user", "delete", "hal", "--yes"]);
    const { store } = await openStore({ sqlitePath: box.sqlitePath, backgroundCheckpoints: false });
    try {
      const rows = (await store.listAudit({ limit: 1000 })).map((e) => JSON.stringify(e));
      assert.ok(
        rows.some((r) => r.includes("+********1234")),
        "the audit row keeps the last four digits",
      );
      assertNoFullNumbers("audit log", rows, numbers);
      assertNoFullNumbers("CLI stderr (debug log)", outputs, numbers);
      // The number itself is still where it belongs.
      assert.equal((await store.findUserByIdentifier("ivy"))?.phone, numbers[2]);
    } finally {
      await store.close();
    }
  } finally {
    box.cleanup();
  }
});
