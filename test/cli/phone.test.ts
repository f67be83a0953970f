// `twofold phone add|verify|send-code`: a number checked and stored in E.164, a verification code texted through a local SMSC and confirmed; refusals named.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { codeIn, TestSMSC } from "../support/smsc.ts";
import { base32Decode, createSandbox, type Sandbox, totp } from "./helpers.ts";

describe("twofold phone", () => {
  let box: Sandbox;
  let smsc: TestSMSC;

  before(async () => {
    smsc = new TestSMSC();
    await smsc.start();
    box = createSandbox(
      [
        "sms:",
        "  sendDeadlineMs: 20000",
        "  gateways:",
        `    - {type: smpp, name: smsc, url: "${smsc.url}", systemId: twofold, password: secret}`,
        "policy:",
        "  sms:",
        "    administrators: [root]",
      ].join("\n"),
    );
    assert.equal((await box.run(["user", "add", "alice"])).code, 0);
    assert.equal((await box.run(["user", "add", "root"])).code, 0);
  });
  after(async () => {
    box.cleanup();
    await smsc.stop();
  });

  test("a user with no other factor, and an administrator, are refused; so are premium-rate numbers", async () => {
    const only = await box.run(["phone", "add", "alice", "+85291234567"]);
    assert.equal(only.code, 1);
    assert.match(only.stderr, /cannot be a user's only factor/);
    assert.equal((await box.run(["totp", "enroll", "root"])).code, 0);
    const admin = await box.run(["phone", "add", "root", "+85291234567"]);
    assert.match(admin.stderr, /administrators cannot use text messages/);
    const premium = await box.run(["phone", "add", "alice", "+19005550100"]);
    assert.notEqual(premium.code, 0);
    assert.match(premium.stderr, /premium-rate numbers are refused/);
    assert.equal(smsc.submitted.length, 0);
  });

  test("add texts a verification code to the number; verify confirms it", async () => {
    // alice gets an authenticator app first (text messages are never the only factor).
    const enroll = await box.run(["totp", "enroll", "alice", "--json"]);
    assert.equal(enroll.code, 0, enroll.stderr);
    const { enrollmentId: credentialId, uri } = JSON.parse(enroll.stdout) as {
      enrollmentId: string;
      uri: string;
    };
    const key = base32Decode(new URL(uri).searchParams.get("secret")!);
    assert.equal((await box.run(["totp", "confirm", credentialId, totp(key, Date.now())])).code, 0);

    const added = await box.json<{ phoneId: string; sent: boolean; maskedNumber: string }>([
      "phone",
      "add",
      "alice",
      "91234567",
      "--country",
      "HK",
    ]);
    assert.equal(added.sent, true);
    assert.equal(added.maskedNumber, "+*******4567");
    const [text] = await smsc.waitForSubmits(1);
    assert.equal(text!.to, "85291234567");
    const wrong = await box.run(["phone", "verify", added.phoneId, "000000"]);
    assert.notEqual(wrong.code, 0);
    const ok = await box.run(["phone", "verify", added.phoneId, codeIn(text!.text)]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /is verified/);
  });
});
