// Creates the demo organisation once (users alice and bob, a demo application, their factors) for `npm start`.

import type { DemoInbox } from "../adapters/sms/demo-inbox.ts";
import type { Config } from "../config/schema.ts";
import { decodeBase32 } from "../core/base32.ts";
import type { Actor } from "../core/deps.ts";
import { TwofoldError } from "../core/errors.ts";
import { maskPhone } from "../core/mask-phone.ts";
import { generateHOTP } from "../core/otp/hotp.ts";
import { generateTOTP } from "../core/otp/totp.ts";
import type { Clock, Store } from "../core/ports.ts";
import type { Services } from "../core/services.ts";
import type { ImportedToken } from "../core/tokens/imported-token.ts";
import type { DemoInfo } from "./demo-info.ts";

/** What seeding needs of the runtime (which passes itself): named here so this module does not import runtime.ts. */
interface Runtime {
  config: Readonly<Config>;
  store: Store;
  services: Services;
  clock: Clock;
  demoInbox?: DemoInbox;
}

const SEEDED_KEY = "demo.seeded";
const INFO_KEY = "demo.info";
const ALICE_URI_KEY = "demo.alice-totp-uri";
const DEMO_ACTOR: Actor = { name: "demo-setup" };

// Fixed, published demo credentials: they are printed on the start page so a newcomer can log in.
// Demo mode only; ensureDemoOrganization refuses to run in any other mode.
const ALICE = {
  username: "alice",
  realName: "Alice Example",
  email: "alice@demo.twofold.test",
  password: "alice-demo",
};
const BOB = {
  username: "bob",
  realName: "Bob Example",
  email: "bob@demo.twofold.test",
  password: "bob-demo",
  // bob reads his texts and e-mails in Traditional Chinese: the demo shows both languages.
  language: "zh-Hant" as const,
};
/**
 * The demo users' phones: Australian mobile numbers the ACMA reserves for fiction (0491 570 156 to 159), so a text
 * that somehow left the demo would reach nobody. Their texts go to the demo inbox on the start page.
 */
export const DEMO_PHONES: Readonly<Record<string, string>> = { alice: "+61491570156", bob: "+61491570157" };
const DEMO_APPLICATION = { name: "Campus Portal", type: "web-sdk" };
export const DEMO_TOKEN_SERIAL = "DEMO-0001";
/**
 * bob's demo token uses the RFC 4226 Appendix D test secret ("12345678901234567890"), so a newcomer
 * without a physical token can still try the hardware-token path with the published codes
 * (755224, 287082, 359152, …) or `oathtool --hotp 3132333435363738393031323334353637383930`.
 */
const DEMO_TOKEN_SECRET = new TextEncoder().encode("12345678901234567890");

/**
 * Seed the demo organisation if it is not there yet, and return what the banner and start page show.
 * Idempotent: each step checks what exists, and the finished state is marked in meta.
 */
export async function ensureDemoOrganization(runtime: Runtime): Promise<DemoInfo> {
  if (runtime.config.mode !== "demo")
    throw new TwofoldError("ERR_FORBIDDEN", "the demo organisation is only created in demo mode");
  const { store, services } = runtime;
  const saved = await store.getMeta(INFO_KEY);
  if ((await store.getMeta(SEEDED_KEY)) && saved)
    return withDemoPhones(runtime, JSON.parse(saved) as DemoInfo);

  for (const person of [ALICE, BOB]) {
    if (!(await services.findUser(person.username))) await services.createUser(DEMO_ACTOR, person);
  }
  const applicationKey = await ensureDemoApplication(runtime);
  const aliceTOTPURI = await ensureAliceTOTP(runtime);
  await ensureBobToken(runtime);

  const info: DemoInfo = {
    organization: runtime.config.organization.name,
    users: [
      {
        username: ALICE.username,
        password: ALICE.password,
        factors: ["authenticator app (TOTP): scan the QR code"],
      },
      {
        username: BOB.username,
        password: BOB.password,
        factors: [
          `hardware token ${DEMO_TOKEN_SERIAL} (HOTP, RFC 4226 test secret: codes ${demoTokenCodes(3).join(", ")}, …)`,
        ],
      },
    ],
    application: { ...DEMO_APPLICATION, integrationKey: applicationKey },
    aliceTOTPURI,
  };
  // Demo data only: alice's otpauth URI (with its secret) and the app key are kept in meta so a restarted
  // demo can show them again. A production deployment never stores a secret in clear like this.
  await store.setMeta(INFO_KEY, JSON.stringify(info));
  await store.setMeta(SEEDED_KEY, new Date(runtime.clock.now()).toISOString());
  return withDemoPhones(runtime, info);
}

/**
 * With the demo inbox (`serve --demo`): alice and bob get a verified phone for text messages, once. The set-up reads
 * each verification code from the inbox and types it back, standing in for the user; never done outside the demo.
 */
async function withDemoPhones(runtime: Runtime, info: DemoInfo): Promise<DemoInfo> {
  const { services, demoInbox } = runtime;
  if (!demoInbox) return info;
  const verified = new Set<string>();
  for (const [username, number] of Object.entries(DEMO_PHONES)) {
    const user = await services.findUser(username);
    if (user && (await ensureDemoPhone(runtime, demoInbox, username, user.id, number)))
      verified.add(username);
  }
  const users = info.users.map((u) => {
    const number = DEMO_PHONES[u.username];
    if (!number || !verified.has(u.username)) return u;
    const factor = `text message to ${maskPhone(number)} (read it in the demo inbox below)`;
    return u.factors.includes(factor) ? u : { ...u, factors: [...u.factors, factor] };
  });
  return { ...info, users };
}

/**
 * One demo user's phone, added and verified once; false when it could not be (a text refused): the demo still
 * works without it, and the next start tries again.
 */
async function ensureDemoPhone(
  runtime: Runtime,
  demoInbox: DemoInbox,
  username: string,
  userId: string,
  number: string,
): Promise<boolean> {
  const { store, services } = runtime;
  try {
    const { phones } = await store.listPhones({ userId, number });
    const phone =
      phones[0] ??
      (await services.addSMSPhone(DEMO_ACTOR, { user: username, number, name: "Demo phone" })).phone;
    if (phone.smsVerifiedAt) return true;
    let text = demoInbox.latestTextTo(number);
    if (!text) {
      await services.sendPhoneVerification(DEMO_ACTOR, phone.id);
      text = demoInbox.latestTextTo(number);
    }
    const code = /[:：]\s*(\d{6,8})/.exec(text ?? "")?.[1];
    if (!code) return false;
    await services.confirmPhoneVerification(DEMO_ACTOR, { phoneId: phone.id, code });
    return true;
  } catch {
    return false;
  }
}

/** The first codes bob's demo token shows (RFC 4226 Appendix D). */
export function demoTokenCodes(count: number): string[] {
  const params = { key: DEMO_TOKEN_SECRET, algorithm: "SHA1" as const, digits: 6 };
  return Array.from({ length: count }, (_, i) => generateHOTP(params, i));
}

async function ensureDemoApplication(runtime: Runtime): Promise<string> {
  const existing = (await runtime.store.listApplications()).find((a) => a.name === DEMO_APPLICATION.name);
  if (existing) return existing.id;
  const created = await runtime.services.createApplication(DEMO_ACTOR, DEMO_APPLICATION);
  return created.application.id;
}

async function ensureAliceTOTP(runtime: Runtime): Promise<string> {
  const { services, clock, config, store } = runtime;
  const saved = await store.getMeta(ALICE_URI_KEY);
  if (saved) return saved;
  const enrollment = await services.enrollTOTP(DEMO_ACTOR, ALICE.username, { label: "Demo authenticator" });
  // Demo shortcut: the server computes alice's current code itself to confirm the enrolment, standing in
  // for the code a real user would read from their app. Never do this outside the demo.
  const key = decodeBase32(enrollment.secret.reveal());
  if (!key) throw new TwofoldError("ERR_INTERNAL", "demo enrolment secret is not base32");
  const { algorithm, digits, period } = config.policy.totp;
  // Confirm with the previous step's code (accepted within the ±1 window), so the code alice's app shows
  // right now is still unused and works on the start page at once.
  const code = generateTOTP({ key, algorithm, digits, period }, clock.now() - period * 1000);
  await services.confirmTOTP(DEMO_ACTOR, enrollment.credentialId, code);
  // Demo data (see ensureDemoOrganization): kept so an interrupted first start does not enrol alice twice.
  await store.setMeta(ALICE_URI_KEY, enrollment.uri.reveal());
  return enrollment.uri.reveal();
}

async function ensureBobToken(runtime: Runtime): Promise<void> {
  const { services, store } = runtime;
  if (!(await store.findTokenBySerial(DEMO_TOKEN_SERIAL))) {
    const token: ImportedToken = {
      serial: DEMO_TOKEN_SERIAL,
      type: "hotp",
      algorithm: "SHA1",
      digits: 6,
      period: null,
      counter: 0,
      secret: DEMO_TOKEN_SECRET,
      manufacturer: "Twofold demo",
      model: "virtual",
    };
    await services.importTokens(DEMO_ACTOR, [token]);
  }
  const token = await store.findTokenBySerial(DEMO_TOKEN_SERIAL);
  if (token && token.userId === null) await services.assignToken(DEMO_ACTOR, DEMO_TOKEN_SERIAL, BOB.username);
}
