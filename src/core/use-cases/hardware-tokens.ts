// Hardware tokens: import into the inventory, lend to users, take back, resync, and identify a token by its code.
import { constantTimeEqual, randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { type ErrorIssue, TwofoldError } from "../errors.ts";
import type { OTPCredential } from "../model.ts";
import { generateHOTP, type OTPParameters } from "../otp/hotp.ts";
import { totpStep } from "../otp/totp.ts";
import { checkImportedToken, type ImportedToken, type ImportedTokenField } from "../tokens/imported-token.ts";
import { recordFactorAdded, recordFactorRemoved } from "./factor-changes.ts";
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
    onProgress?.(i + 1, tokens.length + 1);
    return buildTokenCredential(deps, t, now);
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

/** An inventory token (unassigned) with its secret sealed to its row. */
function buildTokenCredential(deps: Deps, t: ImportedToken, now: number): OTPCredential {
  const id = randomId("DH");
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
}

export interface NewToken {
  serial: string;
  type: "hotp" | "totp";
  digits: 6 | 8;
  secret: Uint8Array;
  /** HOTP: the first counter the token will show (default 0). */
  counter?: number;
  /** TOTP: the time step in seconds (default 30). */
  period?: number;
}

/**
 * Add one token to the inventory (Admin API `POST /admin/v1/tokens`): the same checks as an import (B4: at
 * least 128-bit seeds), an unused serial, audited. `fieldNames` names each field as the caller's API does.
 */
export async function createToken(
  deps: Deps,
  actor: Actor,
  input: NewToken,
  fieldNames: Partial<Record<ImportedTokenField, string>> = {},
): Promise<PublicToken> {
  const token: ImportedToken = {
    serial: input.serial,
    type: input.type,
    algorithm: "SHA1",
    digits: input.digits,
    period: input.type === "totp" ? (input.period ?? 30) : null,
    counter: input.type === "hotp" ? (input.counter ?? 0) : 0,
    secret: input.secret,
    manufacturer: null,
    model: null,
  };
  const issues = checkImportedToken(token, (field) => fieldNames[field] ?? field);
  if (issues.length > 0) {
    const short = issues.some((i) => i.message.includes("ERR_OTP_SECRET_TOO_SHORT"));
    throw new TwofoldError(short ? "ERR_OTP_SECRET_TOO_SHORT" : "ERR_VALIDATION", "invalid token", {
      issues,
    });
  }
  if (await deps.store.findTokenBySerial(token.serial))
    throw new TwofoldError(
      "ERR_TOKEN_EXISTS",
      `a token with serial ${token.serial} is already in the inventory`,
    );
  const credential = buildTokenCredential(deps, token, deps.clock.now());
  await deps.store.transaction(async (tx) => {
    await tx.insertOTPCredentials([credential]);
    await audit({ ...deps, store: tx }, actor, {
      action: "token.create",
      targetType: "token",
      targetId: credential.id,
      after: {
        serial: credential.serial,
        type: credential.type,
        digits: credential.digits,
        period: credential.period,
        counter: credential.counter,
      },
    });
  });
  return toPublicToken(credential);
}

/** A hardware token by its id (Admin API paths), never an authenticator-app credential. */
export async function requireTokenById(deps: Deps, id: string): Promise<OTPCredential> {
  const t = await deps.store.getOTPCredential(id);
  if (t?.kind !== "token") throw new TwofoldError("ERR_TOKEN_NOT_FOUND", `no token ${id}`);
  return t;
}

/** Remove a token from the inventory; a user it was lent to can no longer use it. Audited. */
export async function deleteToken(deps: Deps, actor: Actor, id: string): Promise<void> {
  const token = await requireTokenById(deps, id);
  await deps.store.transaction(async (tx) => {
    if (!(await tx.deleteOTPCredential(token.id)))
      throw new TwofoldError("ERR_TOKEN_NOT_FOUND", `no token ${id}`);
    await audit({ ...deps, store: tx }, actor, {
      action: "token.delete",
      targetType: "token",
      targetId: token.id,
      before: { serial: token.serial, userId: token.userId },
    });
    if (token.userId) await recordFactorRemoved({ ...deps, store: tx }, token.userId);
    if (token.userId)
      await notify({ ...deps, store: tx }, token.userId, "factor-removed", {
        factor: "hardware token",
        serial: token.serial,
      });
  });
}

export async function requireToken(deps: Deps, serial: string): Promise<OTPCredential> {
  const t = await deps.store.findTokenBySerial(serial);
  if (t?.kind !== "token") throw new TwofoldError("ERR_TOKEN_NOT_FOUND", `no token with serial ${serial}`);
  return t;
}

/**
 * Lend an inventory token to a user, optionally until `dueAt`: the borrower is reminded by e-mail when it falls
 * due, and once more when overdue (sendTokenLoanReminders).
 */
export async function assignToken(
  deps: Deps,
  actor: Actor,
  serial: string,
  identifier: string,
  options: { dueAt?: number | null } = {},
): Promise<PublicToken> {
  const token = await requireToken(deps, serial);
  const user = await requireUser(deps, identifier);
  const now = deps.clock.now();
  const dueAt = options.dueAt ?? null;
  if (dueAt !== null && !(Number.isSafeInteger(dueAt) && dueAt > now))
    throw new TwofoldError("ERR_VALIDATION", "a loan's due date must be in the future");
  await deps.store.transaction(async (tx) => {
    if (!(await tx.assignToken(token.id, user.id, now)))
      throw new TwofoldError("ERR_TOKEN_ASSIGNED", `token ${serial} is already assigned; unassign it first`);
    if (dueAt !== null) await tx.setTokenLoanDue(token.id, user.id, dueAt);
    await audit({ ...deps, store: tx }, actor, {
      action: "token.assign",
      targetType: "token",
      targetId: token.id,
      before: { userId: null },
      after: { userId: user.id, serial, ...(dueAt !== null ? { dueAt } : {}) },
    });
    await recordFactorAdded({ ...deps, store: tx }, user.id);
    await notify({ ...deps, store: tx }, user.id, "factor-added", { factor: "hardware token", serial });
  });
  return toPublicToken({ ...token, userId: user.id, assignedAt: now, loanDueAt: dueAt });
}

/** Change when a lent token is due back (null: no due date); its reminders start again from the new date. */
export async function setTokenLoanDue(
  deps: Deps,
  actor: Actor,
  serial: string,
  dueAt: number | null,
): Promise<PublicToken> {
  const token = await requireToken(deps, serial);
  if (!token.userId) throw new TwofoldError("ERR_CONFLICT", `token ${serial} is not lent to anyone`);
  if (dueAt !== null && !(Number.isSafeInteger(dueAt) && dueAt > deps.clock.now()))
    throw new TwofoldError("ERR_VALIDATION", "a loan's due date must be in the future");
  const userId = token.userId;
  await deps.store.transaction(async (tx) => {
    if (!(await tx.setTokenLoanDue(token.id, userId, dueAt)))
      throw new TwofoldError("ERR_CONFLICT", `token ${serial} is not lent to anyone`);
    await audit({ ...deps, store: tx }, actor, {
      action: "token.loan_due",
      targetType: "token",
      targetId: token.id,
      before: { dueAt: token.loanDueAt ?? null },
      after: { dueAt },
    });
  });
  return toPublicToken({ ...token, loanDueAt: dueAt });
}

/**
 * The loan desk's reminders (run by the housekeeping scheduler on every node): each lent token that fell due gets
 * one e-mail to its borrower, and one more `overdueDays` later (0: none). One conditional write marks each
 * reminder sent, in the transaction that queues it: two nodes never send one twice, a crash never loses one.
 */
export async function sendTokenLoanReminders(
  deps: Deps,
  options: { overdueDays: number; limit?: number },
): Promise<{ due: number; overdue: number }> {
  const now = deps.clock.now();
  const overdueMs = options.overdueDays > 0 ? options.overdueDays * 86_400_000 : null;
  const sent = { due: 0, overdue: 0 };
  for (const reminder of await deps.store.listTokenLoanReminders(now, overdueMs, options.limit ?? 100)) {
    const marked = await deps.store.transaction(async (tx) => {
      if (!(await tx.markTokenLoanReminder(reminder))) return false;
      await notify(
        { ...deps, store: tx },
        reminder.userId,
        reminder.stage === 1 ? "token-loan-due" : "token-loan-overdue",
        { serial: reminder.serial, dueAt: reminder.dueAt },
      );
      return true;
    });
    if (marked) sent[reminder.stage === 1 ? "due" : "overdue"]++;
  }
  return sent;
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
    if (token.userId) await recordFactorRemoved({ ...deps, store: tx }, token.userId);
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
  /** A third consecutive code (Duo's Admin API asks for three): checked too when given. */
  code3?: string,
): Promise<void> {
  const token = await requireToken(deps, serial);
  const params = openOTPParameters(deps.keyring, token);
  const range = deps.policy.hotp.resyncLookAhead;
  const codes = code3 === undefined ? [code1, code2] : [code1, code2, code3];
  const fail = () =>
    new TwofoldError("ERR_TOKEN_RESYNC_FAILED", "those codes are not consecutive codes of this token");
  if (codes.some((c) => !/^[0-9]+$/.test(c) || c.length !== token.digits)) throw fail();
  const n = codes.length;
  let ok = false;
  let after: Record<string, number> = {};
  if (token.type === "hotp") {
    const found = findConsecutiveCodes(params, codes, token.counter, token.counter + range);
    if (found === undefined) throw fail();
    ok = await deps.store.resyncHOTPCounter(token.id, token.counter, found + n);
    after = { counter: found + n };
  } else {
    // A TOTP code is the HOTP code of its time step (RFC 6238 §4), so the same search runs over steps.
    const current = totpStep(deps.clock.now(), token.period ?? 30);
    const span = Math.min(range, 1000);
    const found = findConsecutiveCodes(params, codes, current - span, current + span);
    if (found === undefined) throw fail();
    const last = found + n - 1;
    ok = await deps.store.resyncTOTP(token.id, token.lastStep, last, last - current);
    after = { drift: last - current };
  }
  if (!ok) throw new TwofoldError("ERR_CONFLICT", "the token was used while resynchronising; try again");
  await audit(deps, actor, { action: "token.resync", targetType: "token", targetId: token.id, after });
}

/** The first counter (or step) c in [from, to] whose code is `codes[0]` and whose successors' are the rest. */
function findConsecutiveCodes(
  params: OTPParameters,
  codes: readonly string[],
  from: number,
  to: number,
): number | undefined {
  for (let c = from; c <= to; c++) {
    if (codes.every((code, i) => constantTimeEqual(generateHOTP(params, c + i), code))) return c;
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
