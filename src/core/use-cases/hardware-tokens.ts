// Hardware tokens: import into the inventory, lend to users, take back, resync, and identify a token by its code.
import { constantTimeEqual, randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { type ErrorIssue, TwofoldError } from "../errors.ts";
import type { OTPCredential } from "../model.ts";
import { generateHOTP, type OTPParameters } from "../otp/hotp.ts";
import { totpStep } from "../otp/totp.ts";
import type { ImportedToken } from "../tokens/imported-token.ts";
import { notify } from "./notify.ts";
import { matchOTP, openOTPParameters, otpSealContext } from "./otp-credentials.ts";
import type { ImportProgress } from "./users.ts";
import { requireUser } from "./users.ts";

/** What an admin sees of a token: never its secret. */
export type PublicToken = Omit<OTPCredential, "secretSealed">;

export function toPublicToken(c: OTPCredential): PublicToken {
  const { secretSealed, ...rest } = c;
  return rest;
}

/**
 * Add parsed tokens to the inventory. Serials already present refuse the whole batch; the insert is one
 * transaction, so a failure leaves nothing half-imported.
 */
export async function importTokens(
  deps: Deps,
  actor: Actor,
  tokens: ImportedToken[],
  onProgress?: ImportProgress,
): Promise<{ imported: number }> {
  const issues: ErrorIssue[] = [];
  for (const t of tokens) {
    if (await deps.store.findTokenBySerial(t.serial))
      issues.push({
        path: `serial ${t.serial}`,
        message: "a token with this serial is already in the inventory",
      });
  }
  if (issues.length > 0)
    throw new TwofoldError(
      "ERR_TOKEN_EXISTS",
      "some serials are already in the inventory; nothing was imported",
      {
        issues,
      },
    );
  const now = deps.clock.now();
  const credentials: OTPCredential[] = tokens.map((t, i) => {
    const id = randomId("DH");
    onProgress?.(i + 1, tokens.length + 1);
    return {
      id,
      kind: "token",
      serial: t.serial,
      userId: null,
      type: t.type,
      algorithm: t.algorithm,
      digits: t.digits,
      period: t.type === "totp" ? (t.period ?? 30) : null,
      secretSealed: deps.keyring.seal(t.secret, otpSealContext(id)),
      counter: t.type === "hotp" ? t.counter : 0,
      lastStep: null,
      drift: 0,
      status: "active",
      label: null,
      manufacturer: t.manufacturer,
      model: t.model,
      createdAt: now,
      activatedAt: now,
      pendingExpiresAt: null,
      assignedAt: null,
    };
  });
  await deps.store.transaction(async (tx) => {
    await tx.insertOTPCredentials(credentials);
    await audit({ ...deps, store: tx }, actor, {
      action: "token.import",
      targetType: "token",
      targetId: null,
      after: { count: credentials.length, serials: credentials.map((c) => c.serial) },
    });
  });
  onProgress?.(tokens.length + 1, tokens.length + 1);
  return { imported: credentials.length };
}

export async function requireToken(deps: Deps, serial: string): Promise<OTPCredential> {
  const t = await deps.store.findTokenBySerial(serial);
  if (t?.kind !== "token") throw new TwofoldError("ERR_TOKEN_NOT_FOUND", `no token with serial ${serial}`);
  return t;
}

export async function assignToken(
  deps: Deps,
  actor: Actor,
  serial: string,
  identifier: string,
): Promise<PublicToken> {
  const token = await requireToken(deps, serial);
  const user = await requireUser(deps, identifier);
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    if (!(await tx.assignToken(token.id, user.id, now)))
      throw new TwofoldError("ERR_TOKEN_ASSIGNED", `token ${serial} is already assigned; unassign it first`);
    await audit({ ...deps, store: tx }, actor, {
      action: "token.assign",
      targetType: "token",
      targetId: token.id,
      before: { userId: null },
      after: { userId: user.id, serial },
    });
    await notify({ ...deps, store: tx }, user.id, "factor-added", { factor: "hardware token", serial });
  });
  return toPublicToken({ ...token, userId: user.id, assignedAt: now });
}

export async function unassignToken(deps: Deps, actor: Actor, serial: string): Promise<void> {
  const token = await requireToken(deps, serial);
  await deps.store.transaction(async (tx) => {
    if (!(await tx.unassignToken(token.id)))
      throw new TwofoldError("ERR_CONFLICT", `token ${serial} is not assigned to anyone`);
    await audit({ ...deps, store: tx }, actor, {
      action: "token.unassign",
      targetType: "token",
      targetId: token.id,
      before: { userId: token.userId },
      after: { userId: null },
    });
    if (token.userId)
      await notify({ ...deps, store: tx }, token.userId, "factor-removed", {
        factor: "hardware token",
        serial,
      });
  });
}

/**
 * Resynchronise a token from two consecutive codes (RFC 4226 §7.4; B2). HOTP searches ahead of the
 * stored counter; TOTP searches the steps either side of now. Needs two codes so one lucky guess cannot
 * move the window.
 */
export async function resyncToken(
  deps: Deps,
  actor: Actor,
  serial: string,
  code1: string,
  code2: string,
): Promise<void> {
  const token = await requireToken(deps, serial);
  const params = openOTPParameters(deps.keyring, token);
  const range = deps.policy.hotp.resyncLookAhead;
  const fail = () =>
    new TwofoldError("ERR_TOKEN_RESYNC_FAILED", "those codes are not two consecutive codes of this token");
  if (
    !/^[0-9]+$/.test(code1) ||
    !/^[0-9]+$/.test(code2) ||
    code1.length !== token.digits ||
    code2.length !== token.digits
  )
    throw fail();
  let ok = false;
  let after: Record<string, number> = {};
  if (token.type === "hotp") {
    const found = findConsecutivePair(params, code1, code2, token.counter, token.counter + range);
    if (found === undefined) throw fail();
    ok = await deps.store.resyncHOTPCounter(token.id, token.counter, found + 2);
    after = { counter: found + 2 };
  } else {
    // A TOTP code is the HOTP code of its time step (RFC 6238 §4), so the same search runs over steps.
    const current = totpStep(deps.clock.now(), token.period ?? 30);
    const span = Math.min(range, 1000);
    const found = findConsecutivePair(params, code1, code2, current - span, current + span);
    if (found === undefined) throw fail();
    ok = await deps.store.resyncTOTP(token.id, token.lastStep, found + 1, found + 1 - current);
    after = { drift: found + 1 - current };
  }
  if (!ok) throw new TwofoldError("ERR_CONFLICT", "the token was used while resynchronising; try again");
  await audit(deps, actor, { action: "token.resync", targetType: "token", targetId: token.id, after });
}

/** The first counter (or step) c in [from, to] whose code is `code1` and whose successor's is `code2`. */
function findConsecutivePair(
  params: OTPParameters,
  code1: string,
  code2: string,
  from: number,
  to: number,
): number | undefined {
  for (let c = from; c <= to; c++) {
    if (
      constantTimeEqual(generateHOTP(params, c), code1) &&
      constantTimeEqual(generateHOTP(params, c + 1), code2)
    )
      return c;
  }
  return undefined;
}

/**
 * Which tokens could have shown this code now? For the loan desk: a token whose label is worn off is
 * identified by pressing its button. Nothing is consumed.
 */
export async function findTokensByCode(deps: Deps, code: string): Promise<PublicToken[]> {
  if (!/^[0-9]{6}$|^[0-9]{8}$/.test(code)) return [];
  const now = deps.clock.now();
  const found: PublicToken[] = [];
  for (let offset = 0; ; offset += 500) {
    const { credentials } = await deps.store.listOTPCredentials({ kind: "token", limit: 500, offset });
    for (const c of credentials) {
      const m = matchOTP(deps.keyring, { ...c, lastStep: null }, code, now, {
        totpWindow: 2,
        hotpLookAhead: deps.policy.hotp.lookAhead * 10,
      });
      if (m) found.push(toPublicToken(c));
    }
    if (credentials.length < 500) break;
  }
  return found;
}
