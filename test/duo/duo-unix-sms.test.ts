// Debian's login_duo 1.11.3 with a text-message passcode: the menu's SMS option (sms1) texts a code through a local SMSC, and the code typed at the next prompt logs in.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN } from "../http/support.ts";
import { type DuoTestServer, type Integration, startDuoTestServer } from "../support/duo-server.ts";
import { haveDuoUnix, runLoginDuoInteractive, shellMarker, writeDuoConfig } from "../support/duo-unix.ts";
import { codeIn, TestSMSC } from "../support/smsc.ts";
import { dialects } from "../support/stores.ts";

const run = haveDuoUnix("login_duo text-message passcode tests");

for (const dialect of run ? await dialects() : ["sqlite" as const])
  describe(`login_duo 1.11.3 with a text-message passcode (${dialect})`, { skip: !run }, () => {
    let s: DuoTestServer;
    let smsc: TestSMSC;
    let unix: Integration;
    let conf: string;

    before(async () => {
      smsc = new TestSMSC();
      await smsc.start();
      s = await startDuoTestServer({
        dialect,
        overrides: {
          "sms.gateways": [
            { type: "smpp", name: "smsc", url: smsc.url, systemId: "twofold", password: "secret" },
          ],
          // A loaded machine must not turn the send into a refusal (the deadline is outbox.test.ts's subject).
          "sms.sendDeadlineMs": 20_000,
        },
      });
      unix = await s.createIntegration("unix");
      conf = writeDuoConfig({
        dir: s.dir,
        name: "sms.conf",
        ...unix,
        host: s.host,
        cafile: s.certificates.ca,
      });
      const { services } = s.t.runtime;
      await services.createUser(ADMIN, { username: "sally" });
      // Text messages are never a user's only factor (E2): sally has the Twofold Authenticator too.
      await s.activateAuthenticator("sally");
      const { phone } = await services.addSMSPhone(ADMIN, { user: "sally", number: "+886912345678" });
      const [verify] = await smsc.waitForSubmits(1);
      await services.confirmPhoneVerification(ADMIN, { phoneId: phone.id, code: codeIn(verify!.text) });
    });

    after(async () => {
      await s?.close();
      await smsc?.stop();
    });

    test("option 2 (sms1) texts a passcode; login_duo says it was sent, asks again, and the texted code logs in", async () => {
      const shell = shellMarker();
      const before = smsc.submitted.length;
      const r = await runLoginDuoInteractive({
        conf,
        user: "sally",
        command: shell.command,
        answers: [
          { waitFor: /2\. SMS passcode to \+\*{8}5678[\s\S]*Passcode or option \(1-2\): /, type: "2" },
          {
            waitFor: /New SMS passcodes sent\.[\s\S]*Passcode or option \(1-2\): /,
            // Read when the prompt comes back: the server answered only once the SMSC had taken the text.
            get type() {
              const text = smsc.submitted.at(-1)?.text;
              return text && smsc.submitted.length > before ? codeIn(text) : "no-text";
            },
          },
        ],
      });
      assert.equal(r.code, 0, r.output);
      assert.equal(r.answered, 2, r.output);
      assert.match(r.output, /Success\. Logging you in/);
      assert.ok(r.output.includes(shell.marker), r.output);
      assert.equal(smsc.submitted.length, before + 1);
      assert.equal(smsc.submitted.at(-1)!.to, "886912345678");
      const { entries } = await s.t.runtime.services.listAuthLog({
        minTime: 0,
        maxTime: Number.MAX_SAFE_INTEGER,
        limit: 5,
        order: "desc",
      });
      assert.deepEqual(
        entries.slice(0, 2).map((e) => [e.factor, e.result, e.reason]),
        [
          ["sms", "allow", "valid_passcode"],
          ["sms", "deny", "sms_sent"],
        ],
      );
    });
  });
