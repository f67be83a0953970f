// The login steps shared by the Auth API v2 and the legacy REST v1 paths: preauth, auth by passcode or push (sync or async), and status.
import { isIP } from "node:net";
import type { Application, User } from "../../core/model.ts";
import {
  AUTH_MESSAGES,
  type AuthOutcome,
  type PreauthOutcome,
  passcodeOutcome,
} from "../../core/use-cases/auth-api.ts";
import type { LoginSource } from "../../core/use-cases/login-throttle.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { DuoRefusal, invalidParameters, rateLimited } from "./envelope.ts";
import { parseURLEncoded } from "./signed-routes.ts";

export interface UserReference {
  userId?: string | undefined;
  username?: string | undefined;
}

/** Exactly one of `user_id` and `username` (§3.6). */
export function requireOneUserReference(ref: UserReference): void {
  if ((ref.userId === undefined) === (ref.username === undefined))
    throw new DuoRefusal(
      "ERR_VALIDATION",
      invalidParameters("exactly one of username and user_id is required"),
    );
}

/** A DNS host name: dot-separated labels of letters, digits, `-` (and `_`, seen in internal names), at most 253. */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** The longest `ipaddr` accepted: a full host name with its trailing dot. */
export const IPADDR_MAX = 254;

/**
 * `ipaddr` is the login's client address: an IP literal, or nothing known. pam_duo sends PAM_RHOST as it is, and
 * sshd with `UseDNS yes` puts the client's host name there; duo_unix sends it unresolved (it only resolves with
 * `fallback_local_ip`, to the server's own address). A host name is therefore accepted as "no address known":
 * resolving it here would trust whoever controls that DNS zone. Anything else is a 400.
 */
export function checkIP(ip: string | undefined): string | null {
  if (ip === undefined || ip === "") return null;
  if (isIP(ip) !== 0) return ip;
  if (HOST_NAME.test(ip)) return null;
  throw new DuoRefusal("ERR_VALIDATION", invalidParameters("ipaddr"));
}

/**
 * Refuse a login whose source is throttled with Duo's rate-limit answer (§2.2), before the user is looked up:
 * a throttled request counts against no user (A6). `peer` is the connecting address (after trusted proxies).
 */
async function enforceThrottle(runtime: ServiceRuntime, source: LoginSource): Promise<void> {
  const decision = await runtime.services.checkLoginThrottle(source);
  if (!decision.allowed)
    throw new DuoRefusal(
      "ERR_RATE_LIMITED",
      rateLimited(decision.retryAfterSeconds),
      `throttled by ${decision.scope} for ${decision.retryAfterSeconds} s`,
    );
}

export async function runPreauth(
  runtime: ServiceRuntime,
  application: Application,
  ref: UserReference,
  ip: string | null,
  peer: string,
): Promise<PreauthOutcome> {
  await enforceThrottle(runtime, { application, ip, peer });
  const user = await runtime.services.findLoginUser(ref);
  return runtime.services.preauthenticate({
    user,
    username: ref.username ?? ref.userId ?? "",
    application,
    ip,
  });
}

/** A push's menu entries (`push1`, `push2`, …) are the user's push-capable devices in preauth order. */
export function pushDevices(preauth: PreauthOutcome): Array<{ id: string; name: string }> {
  return preauth.result === "auth"
    ? preauth.devices.filter((d) => d.capabilities.includes("push")).map((d) => ({ id: d.id, name: d.name }))
    : [];
}

/** The menu duo_unix prints and the factor tokens its lines map to (§3.9 `prompt`/`factors`). */
/** A text-message menu's entries (`sms1`, `sms2`, …) are the user's SMS phones in preauth order. */
export function smsPhones(preauth: PreauthOutcome): Array<{ id: string; number: string }> {
  return preauth.result === "auth"
    ? preauth.devices
        .filter((d) => d.capabilities.includes("sms"))
        .map((d) => ({ id: d.id, number: d.number ?? "" }))
    : [];
}

export function promptFor(
  preauth: PreauthOutcome & { result: "auth" },
  username: string,
): { text: string; factors: Record<string, string> } {
  const pushes = pushDevices(preauth);
  const texts = smsPhones(preauth);
  const factors: Record<string, string> = {};
  const lines = [`Twofold second-factor login for ${username}`, ""];
  if (pushes.length === 0 && texts.length === 0) {
    lines.push("Enter a passcode from your authenticator app, token or a bypass code.", "", "Passcode: ");
    return { text: lines.join("\n"), factors };
  }
  // Only a push is ever the default (autopush, headless logins): a text goes out only when asked for (ux.md §2).
  if (pushes.length > 0) factors["default"] = "push1";
  lines.push("Enter a passcode or select one of the following options:", "");
  pushes.forEach((d, i) => {
    lines.push(` ${i + 1}. Push a login request to "${d.name}"`);
    factors[String(i + 1)] = `push${i + 1}`;
  });
  texts.forEach((p, i) => {
    const option = pushes.length + i + 1;
    lines.push(` ${option}. SMS passcode to ${p.number}`);
    factors[String(option)] = `sms${i + 1}`;
  });
  const options = pushes.length + texts.length;
  lines.push("", `Passcode or option (1-${options}): `);
  return { text: lines.join("\n"), factors };
}

/** The longest answer a login prompt may send: duo_unix reads at most 255 characters; longer is a wrong passcode. */
export const TYPED_MAX = 1024;

type MenuOption = { kind: "push" | "phone" | "sms"; index: number };

/**
 * What a login prompt's answer asks for: a factor token from the preauth menu (`push1`, `sms1`, `phone2`, …),
 * resolved against the user's devices in runAuth, or anything else, which is a passcode.
 */
export function typedFactor(typed: string, info: string | null, verified: boolean): AuthFactorRequest {
  const menu = /^(push|phone|sms)(\d{1,2})$/.exec(typed);
  if (!menu) return { kind: "passcode", passcode: typed };
  return {
    kind: "menu",
    option: { kind: menu[1] as MenuOption["kind"], index: Number(menu[2]) },
    info,
    verified,
  };
}

/**
 * A menu token's factor: `pushN` is a push to the N-th of the user's active devices, in preauth's order; SMS,
 * phone calls and devices the user lacks are denied, saying what is not offered here.
 */
async function menuFactor(
  runtime: ServiceRuntime,
  application: Application,
  user: User | undefined,
  menu: Extract<AuthFactorRequest, { kind: "menu" }>,
): Promise<Exclude<AuthFactorRequest, { kind: "menu" }>> {
  if (menu.option.kind === "sms") {
    const phones = user ? await runtime.services.listSMSPhones(user, application) : [];
    const phone = phones[menu.option.index - 1];
    return phone ? { kind: "sms", device: phone.id } : { kind: "unavailable", reason: "sms_unavailable" };
  }
  const devices =
    menu.option.kind === "push" && user
      ? (await runtime.services.listDevicesOf(user.id)).filter((d) => d.status === "active")
      : [];
  const device = devices[menu.option.index - 1]?.id;
  return device
    ? { kind: "push", device, info: menu.info, verified: menu.verified }
    : { kind: "unavailable", reason: "option_unavailable" };
}

export type AuthFactorRequest =
  | { kind: "passcode"; passcode: string }
  | { kind: "push"; device: string; info: string | null; verified: boolean }
  /** Send a text-message passcode to `device` (`auto`: the user's first SMS phone). */
  | { kind: "sms"; device: string }
  /** A token from the preauth menu; runAuth resolves it once it has the user. */
  | { kind: "menu"; option: MenuOption; info: string | null; verified: boolean }
  /** An SMS, or a menu option that does not exist here (a phone call, a device the user lacks): a deny. */
  | { kind: "unavailable"; reason: "sms_unavailable" | "option_unavailable" }
  /** The API named a device or factor no device of the user can do: Duo's 400 "no capable device". */
  | { kind: "no_capable_device" };

export type AuthStepResult =
  | { kind: "async"; txid: string }
  | { kind: "final"; outcome: AuthOutcome }
  | { kind: "no_capable_device" };

/**
 * One `/auth` call. Passcodes are checked at once (an async call's status then reads the logged outcome);
 * pushes are sent, then either returned as a transaction to poll or waited for until they end. A client that
 * hangs up while waiting cancels its push. A login denied at once still gets a transaction id when async, so
 * the client polls and shows why.
 */
export async function runAuth(
  runtime: ServiceRuntime,
  application: Application,
  input: {
    ref: UserReference;
    factor: AuthFactorRequest;
    async: boolean;
    ip: string | null;
    /** The connecting address (the integration's server), for its throttle. */
    peer: string;
    /** Aborted when the client hangs up (or the deadline passes): asked for only by a wait, which makes it. */
    hangUp: () => AbortSignal;
    /** Called with its length just before waiting for the push to be answered (the answer deadline moves). */
    onWait?: (ms: number) => void;
  },
): Promise<AuthStepResult> {
  const { services } = runtime;
  const source: LoginSource = { application, ip: input.ip, peer: input.peer };
  const answer = (done: { txid: string; outcome: AuthOutcome }): AuthStepResult =>
    input.async ? { kind: "async", txid: done.txid } : { kind: "final", outcome: done.outcome };
  await enforceThrottle(runtime, source);
  // A passcode for a named user: verifyPasscode finds the user itself, from what this node read before where that
  // still holds (its commit re-checks the name), logged under the canonical name as below.
  if (
    input.factor.kind === "passcode" &&
    input.ref.userId === undefined &&
    input.ref.username !== undefined
  ) {
    const outcome = await services.verifyPasscode({
      username: input.ref.username,
      passcode: input.factor.passcode,
      application,
      ip: input.ip,
      logCanonicalName: true,
    });
    if (outcome.result === "deny") await services.countFailedLogin(source);
    return answer({ txid: outcome.txid, outcome: passcodeOutcome(outcome, runtime.clock.now()) });
  }
  const user = await services.findLoginUser(input.ref);
  const username = user?.usernameCanonical ?? input.ref.username ?? input.ref.userId ?? "";
  const factor =
    input.factor.kind === "menu" ? await menuFactor(runtime, application, user, input.factor) : input.factor;
  if (factor.kind === "no_capable_device") return factor;
  if (factor.kind === "unavailable")
    return answer(
      await services.denyLogin({
        user,
        username,
        application,
        ip: input.ip,
        factor: factor.reason === "sms_unavailable" ? "sms" : "none",
        reason: factor.reason,
      }),
    );
  if (factor.kind === "sms") {
    input.onWait?.(runtime.config.sms.sendDeadlineMs + 1000);
    const texted = await services.requestLoginSMS({
      user,
      username,
      application,
      ip: input.ip,
      device: factor.device,
    });
    if (texted.noCapableDevice) return { kind: "no_capable_device" };
    // A text for a user who does not exist (or may not log in) is a probe, counted like a wrong passcode.
    if (!user || user.status === "disabled") await services.countFailedLogin(source);
    return answer(texted);
  }
  if (factor.kind === "passcode") {
    const outcome = await services.verifyPasscode({
      username,
      passcode: factor.passcode,
      application,
      ip: input.ip,
      user,
    });
    if (outcome.result === "deny") await services.countFailedLogin(source);
    return answer({ txid: outcome.txid, outcome: passcodeOutcome(outcome, runtime.clock.now()) });
  }
  const pushed = await services.requestAuthPush({
    user,
    username,
    application,
    device: factor.device,
    ip: input.ip,
    info: factor.info,
    verified: factor.verified,
  });
  if (!pushed.started) {
    // A push for a user who does not exist (or may not log in) is a probe, counted like a wrong passcode.
    if (!user || user.status === "disabled") await services.countFailedLogin(source);
    return pushed.noCapableDevice ? { kind: "no_capable_device" } : answer(pushed);
  }
  if (input.async) return { kind: "async", txid: pushed.txid };
  const timeoutMs = pushed.expiresAt - runtime.clock.now() + 1000;
  input.onWait?.(timeoutMs);
  const status = await services
    .waitForPush(pushed.txid, { timeoutMs, signal: input.hangUp() })
    // The push is gone with its user (deleted while it waited): a deny, never an error (A4).
    .catch((error: unknown) => {
      if ((error as { code?: string }).code === "ERR_PUSH_NOT_FOUND") return "denied" as const;
      throw error;
    });
  if (status === "pending") await services.cancelPush(pushed.txid);
  return { kind: "final", outcome: await finalStatus(runtime, application, pushed.txid) };
}

async function finalStatus(
  runtime: ServiceRuntime,
  application: Application,
  txid: string,
): Promise<AuthOutcome> {
  const read = await runtime.services.readAuthStatus({ txid, application, holdMs: 0 });
  if (!read.found) return { result: "deny", status: "deny", message: AUTH_MESSAGES.denied, factor: "push" };
  return read.outcome;
}

/** A transaction's state for status polls; an unknown txid (or another integration's) is a parameter error. */
export async function runStatus(
  runtime: ServiceRuntime,
  call: {
    application: Application;
    params: { txid: string };
    /** Asked for only when the poll waits (it is made then). */
    readonly signal: AbortSignal;
    deadline: { extend(ms: number): void };
  },
): Promise<AuthOutcome> {
  const read = await runtime.services.readAuthStatus({
    txid: call.params.txid,
    application: call.application,
    holdMs: runtime.services.statusHoldMs(),
    signal: call.signal,
    onWait: (ms) => call.deadline.extend(ms),
  });
  if (!read.found) throw new DuoRefusal("ERR_VALIDATION", invalidParameters("txid"), "unknown transaction");
  return read.outcome;
}

/**
 * `pushinfo` is URL-encoded `key=value` pairs (§3.7): shown in the app as `key: value` lines, cut to the
 * configured length rather than refused (duo_unix always sends it, with the command being run).
 */
export function pushInfoText(runtime: ServiceRuntime, pushinfo: string | undefined): string | null {
  if (!pushinfo) return null;
  let text: string;
  try {
    text = parseURLEncoded(pushinfo)
      .map(([k, v]) => (v === "" ? k : `${k}: ${v}`))
      .join("\n");
  } catch {
    text = pushinfo;
  }
  // Shown as lines in the app: line feeds stay, other control characters (and NUL, which PostgreSQL cannot store) go.
  text = text.replace(/[^\P{Cc}\n]/gu, "");
  const max = runtime.config.policy.push.infoMaxBytes;
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return text || null;
  // Cut on a character boundary: drop a partial UTF-8 sequence at the end.
  return (
    bytes
      .subarray(0, max)
      .toString("utf8")
      .replace(/\uFFFD+$/, "") || null
  );
}

export function truthy(v: string | undefined): boolean {
  return v === "1" || v === "true";
}

export type { User };
