// Every command the demo prints (banner, start page, and the next steps and hints commands print) works when
// pasted as printed, in the directory the demo runs in, from a terminal that has no TWOFOLD_* variables.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TestDevice } from "../support/test-device.ts";
import { base32Decode, collectOutput, createSandbox, type RunResult, type Sandbox, totp } from "./helpers.ts";

/** `npm start` in a fresh checkout: demo mode, nothing configured, started through npm (any free port). */
const NPM_START_ENV = {
  TWOFOLD_CONFIG: undefined,
  TWOFOLD_LOGGING_LEVEL: "silent",
  npm_command: "run-script",
};
/** Another terminal in the same directory, where `npx twofold …` runs the command. */
const PASTING_ENV = { TWOFOLD_CONFIG: undefined, npm_command: "exec" };

/** The commands in a text, as printed: `npx twofold …` up to the end of the line, a backquote or a tag. */
function printedCommands(text: string): string[] {
  return [...text.matchAll(/npx twofold [^`<\n)]*[^`<\n) ]/g)].map((m) => m[0]);
}

describe("commands the demo prints, pasted as printed", () => {
  let box: Sandbox;
  let server: ChildProcess;
  let banner = "";
  let url = "";

  /** Run a printed command as the shell would: `npx twofold` is this checkout's bin/twofold.js. */
  const paste = async (line: string): Promise<RunResult> => {
    assert.match(line, /^npx twofold /);
    return await box.run(line.slice("npx twofold ".length).split(" "), { env: PASTING_ENV });
  };

  before(async () => {
    box = createSandbox();
    server = box.spawn(["serve", "--demo", "--port", "0", "--host", "127.0.0.1"], NPM_START_ENV);
    banner = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`no banner in 30 s: ${out}`)), 30_000);
      server.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (/in a browser/.test(out)) {
          clearTimeout(timer);
          resolve(out);
        }
      });
    });
    url = /Listening on (http:\/\/\S+)/.exec(banner)![1]!;
  });

  after(async () => {
    const exited = once(server, "exit");
    server.kill("SIGTERM");
    await exited;
    box.cleanup();
  });

  test("the banner and the start page print the same commands, each one ready to paste", async () => {
    const fromBanner = printedCommands(banner);
    const fromPage = printedCommands(await (await fetch(`${url}/`)).text());
    console.log(`printed: ${fromBanner.length} commands in the banner, ${fromPage.length} on the start page`);
    assert.ok(fromPage.length >= 7, banner);
    // The banner adds the two commands that put the demo on the LAN with TLS, for a phone.
    assert.deepEqual(fromBanner.slice(0, fromPage.length), fromPage);
    assert.deepEqual(
      fromBanner.slice(fromPage.length).map((c) => c.split(" ").slice(0, 4).join(" ")),
      ["npx twofold certs dev", "npx twofold serve --host"],
    );
    for (const line of fromBanner) assert.match(line, / --demo$/, line);
  });

  test("each printed command, and each command it prints in turn, succeeds on the demo database", async () => {
    const commands = printedCommands(banner);
    const ran: string[] = [];
    const run = (line: string) => {
      ran.push(line);
      return paste(line);
    };
    const take = (words: string) => {
      const line = commands.find((c) => c.startsWith(`npx twofold ${words}`));
      assert.ok(line, `printed: npx twofold ${words}`);
      return line;
    };

    const users = await run(take("user list"));
    assert.equal(users.code, 0, users.stderr);
    assert.match(users.stdout, /alice/);
    assert.match(users.stdout, /bob/);

    // push activate prints a link; a device activated with it gets the push that push send then sends.
    const activation = await run(take("push activate alice"));
    assert.equal(activation.code, 0, activation.stderr);
    const token = /#activate=(\S+)/.exec(activation.stdout)![1]!;
    const device = new TestDevice(url, () => Date.now());
    assert.equal((await device.activate(token)).status, 200);
    const sendLine = take("push send alice");
    ran.push(sendLine);
    const send = box.spawn(sendLine.slice("npx twofold ".length).split(" "), PASTING_ENV);
    const sent = collectOutput(send);
    const printed = await new Promise<string>((resolve) => {
      let out = "";
      send.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (/Waiting up to/.test(out)) resolve(out);
      });
    });
    const txid = /Push (\S+) sent/.exec(printed)![1]!;
    const code = /Code to type in the app: (\d+)/.exec(printed)![1]!;
    assert.equal((await device.answer(txid, "approve", code)).status, 200);
    const result = await sent;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Result: approved/);

    for (const words of ["bypass issue alice", "rescue generate alice", "audit tail"]) {
      const r = await run(take(words));
      assert.equal(r.code, 0, `${words}: ${r.stderr}`);
    }

    // totp enroll prints the command that confirms the enrolment.
    const enroll = await run(take("totp enroll bob"));
    assert.equal(enroll.code, 0, enroll.stderr);
    const [confirm] = printedCommands(enroll.stdout);
    assert.ok(confirm, enroll.stdout);
    const key = base32Decode(/key:\s+([A-Z2-7]+)/.exec(enroll.stdout)![1]!);
    const confirmed = await run(confirm.replace(" CODE", ` ${totp(key, Date.now())}`));
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.match(confirmed.stdout, /is active/);

    // A refused push names the command that fixes it; a deletion asks for the command that confirms it.
    const refused = await run("npx twofold push send bob --demo");
    assert.equal(refused.code, 3);
    const [fix] = printedCommands(refused.stdout);
    assert.equal(fix, "npx twofold push activate bob --demo");
    assert.equal((await run(fix!)).code, 0);
    const unconfirmed = await run("npx twofold user delete bob --demo");
    assert.equal(unconfirmed.code, 2);
    const [yes] = printedCommands(unconfirmed.stderr);
    assert.equal(yes, "npx twofold user delete bob --yes --demo");
    const deleted = await run(yes!);
    assert.equal(deleted.code, 0, deleted.stderr);

    // The phone's way in: certs dev, then the TLS server on the LAN address, which a client trusting the CA reaches.
    const certs = await run(take("certs dev"));
    assert.equal(certs.code, 0, certs.stderr);
    const tlsLine = take("serve --host 0.0.0.0");
    ran.push(tlsLine);
    const tls = box.spawn(tlsLine.slice("npx twofold ".length).split(" "), {
      ...PASTING_ENV,
      TWOFOLD_LOGGING_LEVEL: "silent",
    });
    try {
      const listening = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`TLS serve printed no URL in 30 s: ${out}`)), 30_000);
        tls.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /Listening on (https:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const port = new URL(listening).port;
      const ca = readFileSync(join(box.dir, "data/certs/ca.pem"));
      const health = await new Promise<number>((resolve, reject) => {
        https
          .get({ host: "127.0.0.1", port, path: "/health", ca, servername: "localhost" }, (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          })
          .on("error", reject);
      });
      assert.equal(health, 200, "the certificate verifies against the CA certs dev made");
    } finally {
      const exited = once(tls, "exit");
      tls.kill("SIGTERM");
      await exited;
    }
    console.log(`pasted and ran ${ran.length} printed commands`);
  });
});
