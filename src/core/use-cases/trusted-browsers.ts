// "Yes, trust this browser" (I5): a revocable server-side record per user, application and browser that lets a login skip the second factor through the completion gate.
import { effectivePolicy } from "../application-policy.ts";
import { completeAuthentication, type GateDenyReason } from "../completion-gate.ts";
import { randomBytes, randomHex, randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps, SYSTEM_ACTOR } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import type { Application, AuthFactor, TrustedBrowser, TrustRevocationReason, User } from "../model.ts";
import { Secret } from "../secret.ts";
import { notify } from "./notify.ts";
import { revokeTrustedBrowsersForUser } from "./trust-revocation.ts";
import { requireUser } from "./users.ts";

export { revokeTrustedBrowsersForUser };

const DAY = 86_400_000;

/** How long after a login the user may still choose to trust the browser it happened in. */
const TRUST_OFFER_MS = 10 * 60_000;

/**
 * Factors after which a browser may be trusted. Not after a bypass or rescue code (ux.md §2.1: someone without
 * their phone is not offered to skip it for a month), nor after no factor at all or a skip.
 */
const TRUSTABLE_FACTORS: ReadonlySet<AuthFactor | "webauthn"> = new Set([
  "push",
  "totp",
  "hotp",
  "token",
  "sms",
  "webauthn",
]);

/** `id.secret`: the id (`TB` + 18) and 24 random bytes (192 bits) in base64url. */
const TOKEN_SHAPE = /^(TB[A-Z0-9]{18})\.([A-Za-z0-9_-]{32})$/;

function newSecret(): string {
  return Buffer.from(randomBytes(24)).toString("base64url");
}

/**
 * A short description of a browser for the user's list ("Chrome on Windows"), never the whole header: enough to
 * recognise one's own browser, too little to fingerprint it.
 */
export function summarizeUserAgent(userAgent: string | null | undefined): string | null {
  if (!userAgent) return null;
  const ua = userAgent.slice(0, 512);
  const browser =
    [
      [/Edg(e|A|iOS)?\//, "Edge"],
      [/OPR\/|Opera/, "Opera"],
      [/SamsungBrowser\//, "Samsung Internet"],
      [/Firefox\/|FxiOS\//, "Firefox"],
      [/Chrome\/|CriOS\/|Chromium\//, "Chrome"],
      [/Safari\//, "Safari"],
    ].find(([re]) => (re as RegExp).test(ua))?.[1] ?? "A browser";
  const os =
    [
      [/Windows/, "Windows"],
      [/iPhone|iPad|iPod/, "iOS"],
      [/Android/, "Android"],
      [/CrOS/, "ChromeOS"],
      [/Mac OS X|Macintosh/, "macOS"],
      [/Linux/, "Linux"],
    ].find(([re]) => (re as RegExp).test(ua))?.[1] ?? null;
  return os ? `${browser} on ${os}` : (browser as string);
}

/** The end of a browser's trust under the policy in force now: its own expiry, or sooner if the days were lowered. */
function trustEndsAt(browser: TrustedBrowser, rememberDays: number): number {
  return Math.min(browser.expiresAt, browser.createdAt + rememberDays * DAY);
}

async function activeApplication(deps: Deps, applicationId: string): Promise<Application | undefined> {
  const app = await deps.store.getApplication(applicationId);
  return app?.status === "active" ? app : undefined;
}

/**
 * Whether the browser of a login may be offered "Yes, trust this browser", and for how many days: the login
 * (`txid`) must be a recent allow of this user through this application with a factor that proves possession
 * (not a bypass or rescue code), and the application must remember browsers. Null: do not offer.
 */
export async function offerTrustBrowser(
  deps: Deps,
  input: { userId: string; applicationId: string; txid: string },
): Promise<{ days: number } | null> {
  const now = deps.clock.now();
  const app = await activeApplication(deps, input.applicationId);
  if (!app) return null;
  const days = rememberDays(deps, app);
  if (days === 0) return null;
  const login = await deps.store.findAuthLogByTxid(input.txid);
  if (
    login?.result !== "allow" ||
    login.userId !== input.userId ||
    login.applicationId !== input.applicationId ||
    !TRUSTABLE_FACTORS.has(login.factor) ||
    login.at < now - TRUST_OFFER_MS ||
    login.at > now
  )
    return null;
  const user = await deps.store.getUser(input.userId);
  if (!user || user.status === "disabled") return null;
  return { days };
}

function rememberDays(deps: Pick<Deps, "policy">, app: Application): number {
  return effectivePolicy(deps.policy, app).rememberDays;
}

/**
 * offerTrustBrowser's answer for a login the calling request has itself just allowed, from what that request read
 * and what the allow decided (factor, user, application), without reading them back. Only the offer: trustBrowser
 * checks the login again, with reads, when the user takes it.
 */
export function offerTrustAfterAllow(
  deps: Pick<Deps, "policy">,
  input: { application: Application; user: User; factor: AuthFactor | null },
): { days: number } | null {
  if (input.application.status !== "active" || input.user.status === "disabled") return null;
  if (input.factor === null || !TRUSTABLE_FACTORS.has(input.factor)) return null;
  const days = rememberDays(deps, input.application);
  return days === 0 ? null : { days };
}

export interface TrustedBrowserGrant {
  browserId: string;
  /** The cookie value (`id.secret`), for a `__Host-` cookie: shown once, only its hash is stored. */
  token: Secret<string>;
  expiresAt: number;
  days: number;
}

/**
 * Trust the browser a login happened in, for the application's remember days (I5). Refused (ERR_POLICY) when the
 * login may not be trusted (offerTrustBrowser); a login trusts at most one browser (ERR_CONFLICT the second
 * time). Past the per-user cap the least recently used browser is revoked. The user is told (G3).
 */
export async function trustBrowser(
  deps: Deps,
  input: {
    userId: string;
    applicationId: string;
    txid: string;
    userAgent?: string | null;
    ip?: string | null;
  },
): Promise<TrustedBrowserGrant> {
  const offer = await offerTrustBrowser(deps, input);
  if (!offer)
    throw new TwofoldError("ERR_POLICY", "this login cannot trust its browser", {
      detail: `user ${input.userId} application ${input.applicationId} txid ${input.txid}`,
    });
  const now = deps.clock.now();
  const id = randomId("TB");
  const secret = newSecret();
  const browser: TrustedBrowser = {
    id,
    userId: input.userId,
    applicationId: input.applicationId,
    secretHash: deps.keyring.hashCode(secret, id),
    txid: input.txid,
    userAgent: summarizeUserAgent(input.userAgent),
    ip: input.ip?.slice(0, 64) ?? null,
    createdAt: now,
    expiresAt: now + offer.days * DAY,
    lastUsedAt: null,
    revokedAt: null,
    revokedReason: null,
  };
  await deps.store.transaction(async (tx) => {
    const txDeps = { ...deps, store: tx };
    const live = await tx.listTrustedBrowsers(input.userId, now);
    const oldestFirst = live.sort((a, b) => (a.lastUsedAt ?? a.createdAt) - (b.lastUsedAt ?? b.createdAt));
    for (const old of oldestFirst.slice(
      0,
      Math.max(0, live.length - deps.policy.trustedBrowsers.maxPerUser + 1),
    ))
      await tx.revokeTrustedBrowser(old.id, "replaced", now);
    await tx.insertTrustedBrowser(browser);
    await audit(txDeps, SYSTEM_ACTOR, {
      action: "trusted_browser.add",
      targetType: "user",
      targetId: input.userId,
      after: {
        browserId: id,
        applicationId: input.applicationId,
        expiresAt: browser.expiresAt,
        browser: browser.userAgent,
        txid: input.txid,
      },
    });
    await notify(txDeps, input.userId, "trusted-browser-added", {
      application: (await tx.getApplication(input.applicationId))?.name ?? input.applicationId,
      browser: browser.userAgent,
      ip: browser.ip,
      days: offer.days,
    });
  });
  return {
    browserId: id,
    token: new Secret(`${id}.${secret}`),
    expiresAt: browser.expiresAt,
    days: offer.days,
  };
}

/** Why a presented cookie did not skip the second factor: for operators' logs, never shown to the user. */
export type NoSkipReason =
  | "absent"
  | "malformed"
  | "unknown"
  | "other_user"
  | "other_application"
  | "revoked"
  | "expired"
  | "policy_off"
  | "already_used";

export type TrustedBrowserCheck =
  | {
      result: "allow";
      factor: "remembered_device";
      reason: "remembered_device";
      txid: string;
      /** The rotated cookie value: set it in place of the one presented (I5, rotated on use). */
      token: Secret<string>;
      expiresAt: number;
    }
  /** The completion gate refused (user disabled, application disabled, …): the login is denied, and logged. */
  | { result: "deny"; reason: GateDenyReason; txid: string }
  /** No skip: ask for the second factor as usual (and drop the cookie if one was presented). */
  | { result: "none"; reason: NoSkipReason };

/**
 * Does this browser skip the second factor for this user and application? The cookie must name a live record of
 * this very user and application whose secret matches (keyed hash, constant time), within its expiry and within
 * the application's remember days as they are now (lowered to 0: no skip). A skip completes through the
 * completion gate (factor and reason `remembered_device` in the authentication log and `auth_context`) and
 * rotates the cookie: the one presented stops working, whichever of two racing requests wins.
 */
export async function checkTrustedBrowser(
  deps: Deps,
  input: {
    token: unknown;
    user: Pick<User, "id">;
    /** As the login named the user (for the log). */
    username: string;
    application: Pick<Application, "id">;
    ip?: string | null;
    txid?: string;
    /**
     * A prompt login the skip completes: on an allow it becomes `allowed` in the same transaction as the cookie's
     * rotation and the completion gate's log line; a login that has ended rolls it all back (ERR_LOGIN_SESSION_ENDED).
     */
    loginSessionId?: string;
  },
): Promise<TrustedBrowserCheck> {
  const none = (reason: NoSkipReason): TrustedBrowserCheck => ({ result: "none", reason });
  if (input.token === undefined || input.token === null || input.token === "") return none("absent");
  const m = typeof input.token === "string" ? TOKEN_SHAPE.exec(input.token) : null;
  if (!m) return none("malformed");
  const [, id, secret] = m as unknown as [string, string, string];
  const now = deps.clock.now();
  const browser = await deps.store.getTrustedBrowser(id);
  if (!browser || !deps.keyring.verifyCodeHash(secret, id, browser.secretHash)) return none("unknown");
  if (browser.userId !== input.user.id) return none("other_user");
  if (browser.applicationId !== input.application.id) return none("other_application");
  if (browser.revokedAt !== null) return none("revoked");
  const app = await deps.store.getApplication(browser.applicationId);
  const days = app ? effectivePolicy(deps.policy, app).rememberDays : 0;
  if (days === 0) return none("policy_off");
  const endsAt = trustEndsAt(browser, days);
  if (now >= endsAt) return none("expired");

  const txid = input.txid ?? randomHex(16);
  const nextSecret = newSecret();
  return deps.store.transaction(async (tx) => {
    if (!(await tx.useTrustedBrowser(id, browser.secretHash, deps.keyring.hashCode(nextSecret, id), now)))
      return none("already_used");
    const verdict = await completeAuthentication(
      { ...deps, store: tx },
      {
        userId: browser.userId,
        username: input.username,
        applicationId: browser.applicationId,
        factor: "remembered_device",
        factorClass: null,
        reason: "remembered_device",
        ip: input.ip ?? null,
        txid,
        now,
      },
    );
    if (verdict.result === "deny") return { result: "deny", reason: verdict.reason, txid };
    if (
      input.loginSessionId !== undefined &&
      !(await tx.allowLoginSession(input.loginSessionId, browser.userId, {
        factor: "remembered_device",
        txid,
        at: now,
      }))
    )
      throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended");
    return {
      result: "allow",
      factor: "remembered_device",
      reason: "remembered_device",
      txid,
      token: new Secret(`${id}.${nextSecret}`),
      expiresAt: endsAt,
    };
  });
}

export interface TrustedBrowserSummary {
  id: string;
  applicationId: string;
  application: string | null;
  browser: string | null;
  ip: string | null;
  createdAt: number;
  /** When it stops skipping under the policy in force now. */
  expiresAt: number;
  lastUsedAt: number | null;
  status: "active" | "expired" | "revoked";
  revokedAt: number | null;
  revokedReason: TrustRevocationReason | null;
}

/** A user's trusted browsers, newest first, with their status under the policy in force now (never a secret). */
export async function listTrustedBrowsers(deps: Deps, identifier: string): Promise<TrustedBrowserSummary[]> {
  const user = await requireUser(deps, identifier);
  const now = deps.clock.now();
  const browsers = await deps.store.listTrustedBrowsers(user.id);
  const apps = new Map<string, Application | undefined>();
  for (const b of browsers)
    if (!apps.has(b.applicationId))
      apps.set(b.applicationId, await deps.store.getApplication(b.applicationId));
  return browsers.map((b) => {
    const app = apps.get(b.applicationId);
    const endsAt = trustEndsAt(b, app ? effectivePolicy(deps.policy, app).rememberDays : 0);
    return {
      id: b.id,
      applicationId: b.applicationId,
      application: app?.name ?? null,
      browser: b.userAgent,
      ip: b.ip,
      createdAt: b.createdAt,
      expiresAt: endsAt,
      lastUsedAt: b.lastUsedAt,
      status: b.revokedAt !== null ? "revoked" : now >= endsAt ? "expired" : "active",
      revokedAt: b.revokedAt,
      revokedReason: b.revokedReason,
    };
  });
}

/**
 * Revoke one trusted browser of a user: by the user (`by: "user"`, the portal and `twofold user browsers … revoke`
 * on their behalf) or an administrator. ERR_TRUSTED_BROWSER_NOT_FOUND when it is not theirs or already revoked.
 */
export async function revokeTrustedBrowser(
  deps: Deps,
  actor: Actor,
  identifier: string,
  browserId: string,
  by: "user" | "admin" = "admin",
): Promise<void> {
  const user = await requireUser(deps, identifier);
  const browser = await deps.store.getTrustedBrowser(browserId);
  const notFound = () =>
    new TwofoldError("ERR_TRUSTED_BROWSER_NOT_FOUND", `${user.username} has no trusted browser ${browserId}`);
  if (browser?.userId !== user.id) throw notFound();
  await deps.store.transaction(async (tx) => {
    if (!(await tx.revokeTrustedBrowser(browser.id, by, deps.clock.now()))) throw notFound();
    await audit({ ...deps, store: tx }, actor, {
      action: "trusted_browser.revoke",
      targetType: "user",
      targetId: user.id,
      before: { browserId: browser.id, applicationId: browser.applicationId, browser: browser.userAgent },
      after: { reason: by },
    });
  });
}

/** `revokeTrustedBrowsersForUser` by user name, for the CLI and the Admin API (reason `user` or `admin`). */
export async function revokeAllTrustedBrowsers(
  deps: Deps,
  actor: Actor,
  identifier: string,
  by: "user" | "admin" = "admin",
): Promise<number> {
  const user = await requireUser(deps, identifier);
  return revokeTrustedBrowsersForUser(deps, user.id, by, actor);
}
