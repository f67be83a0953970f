// Bypass codes: random digits usable N times within T, stored only as keyed hashes, consumed by one conditional write.
import { randomDigits, randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import type { BypassCode, BypassSource } from "../model.ts";
import { Secret } from "../secret.ts";
import { notify } from "./notify.ts";
import { requireUser } from "./users.ts";

export interface BypassRequest {
  /** How many codes (1-10). */
  count?: number;
  /** Uses per code; 0 means unlimited (only where policy allows it). Default from policy. */
  uses?: number;
  /** Validity in seconds; 0 means no expiry (only where policy allows it). Default from policy. */
  validSeconds?: number;
  source?: BypassSource;
  /** Service desk: how identity was checked, e.g. "student card 1234 seen". Recorded in the audit log. */
  idCheck?: string | null;
  /** Revoke the user's existing codes first (Duo's Admin API default). */
  replaceExisting?: boolean;
}

export interface IssuedBypassCodes {
  /** The codes themselves: shown once to the person issuing them, never stored. */
  codes: Secret<string[]>;
  records: PublicBypassCode[];
}

export type PublicBypassCode = Omit<BypassCode, "codeHash">;

export function toPublicBypassCode(c: BypassCode): PublicBypassCode {
  const { codeHash, ...rest } = c;
  return rest;
}

/** Resolve requested uses/validity against policy: caps apply, unlimited only when allowed (C5). */
export function resolveBypassLimits(
  policy: Deps["policy"]["bypass"],
  request: Pick<BypassRequest, "uses" | "validSeconds">,
): { uses: number | null; validSeconds: number | null } {
  const uses = request.uses ?? policy.defaultUses;
  const valid = request.validSeconds ?? policy.defaultValiditySeconds;
  const refuse = (message: string, path: string) =>
    new TwofoldError("ERR_BYPASS_POLICY", message, { issues: [{ path, message }] });
  if (!Number.isInteger(uses) || uses < 0) throw refuse("uses must be a whole number", "uses");
  if (!Number.isInteger(valid) || valid < 0)
    throw refuse("validity must be a whole number of seconds", "validSeconds");
  if (uses === 0 && !policy.allowUnlimited) throw refuse("unlimited uses are not allowed by policy", "uses");
  if (valid === 0 && !policy.allowUnlimited)
    throw refuse("codes that never expire are not allowed by policy", "validSeconds");
  if (uses > policy.maxUses) throw refuse(`at most ${policy.maxUses} uses are allowed by policy`, "uses");
  if (valid > policy.maxValiditySeconds)
    throw refuse(
      `at most ${policy.maxValiditySeconds} seconds of validity are allowed by policy`,
      "validSeconds",
    );
  return { uses: uses === 0 ? null : uses, validSeconds: valid === 0 ? null : valid };
}

export async function issueBypassCodes(
  deps: Deps,
  actor: Actor,
  identifier: string,
  request: BypassRequest = {},
): Promise<IssuedBypassCodes> {
  const user = await requireUser(deps, identifier);
  const count = request.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 10)
    throw new TwofoldError("ERR_VALIDATION", "count must be 1 to 10", {
      issues: [{ path: "count", message: "1 to 10" }],
    });
  const { uses, validSeconds } = resolveBypassLimits(deps.policy.bypass, request);
  const now = deps.clock.now();
  const plain: string[] = [];
  const records: BypassCode[] = [];
  for (let i = 0; i < count; i++) {
    const code = randomDigits(deps.policy.bypass.digits);
    plain.push(code);
    records.push({
      id: randomId("DB"),
      userId: user.id,
      codeHash: deps.keyring.hashCode(code, user.id),
      usesLeft: uses,
      maxUses: uses,
      expiresAt: validSeconds === null ? null : now + validSeconds * 1000,
      source: request.source ?? "admin",
      createdBy: actor.name,
      createdAt: now,
      lastUsedAt: null,
      revokedAt: null,
      idCheck: request.idCheck ?? null,
    });
  }
  await deps.store.transaction(async (tx) => {
    if (request.replaceExisting) await tx.revokeBypassCodes(user.id, now);
    const live = await tx.listLiveBypassCodes(user.id, now);
    if (live.length + count > deps.policy.bypass.maxLivePerUser)
      throw new TwofoldError(
        "ERR_BYPASS_POLICY",
        `a user may hold at most ${deps.policy.bypass.maxLivePerUser} live bypass codes`,
      );
    await tx.insertBypassCodes(records);
    await audit({ ...deps, store: tx }, actor, {
      action: "bypass.issue",
      targetType: "user",
      targetId: user.id,
      after: {
        ids: records.map((r) => r.id),
        uses,
        expiresAt: records[0]!.expiresAt,
        source: request.source ?? "admin",
        idCheck: request.idCheck ?? null,
      },
    });
    await notify({ ...deps, store: tx }, user.id, "bypass-code-issued", {
      count,
      by: actor.name,
      expiresAt: records[0]!.expiresAt,
    });
  });
  return { codes: new Secret(plain), records: records.map(toPublicBypassCode) };
}

export async function listBypassCodes(deps: Deps, identifier: string): Promise<PublicBypassCode[]> {
  const user = await requireUser(deps, identifier);
  return (await deps.store.listBypassCodes(user.id)).map(toPublicBypassCode);
}

export async function revokeBypassCode(deps: Deps, actor: Actor, id: string): Promise<void> {
  const code = await deps.store.getBypassCode(id);
  if (!code) throw new TwofoldError("ERR_BYPASS_NOT_FOUND", `no bypass code ${id}`);
  await deps.store.transaction(async (tx) => {
    if (!(await tx.revokeBypassCode(id, deps.clock.now())))
      throw new TwofoldError("ERR_CONFLICT", "that bypass code was already revoked");
    await audit({ ...deps, store: tx }, actor, {
      action: "bypass.revoke",
      targetType: "user",
      targetId: code.userId,
      after: { id },
    });
  });
}

export async function revokeAllBypassCodes(deps: Deps, actor: Actor, identifier: string): Promise<number> {
  const user = await requireUser(deps, identifier);
  return deps.store.transaction(async (tx) => {
    const n = await tx.revokeBypassCodes(user.id, deps.clock.now());
    await audit({ ...deps, store: tx }, actor, {
      action: "bypass.revoke_all",
      targetType: "user",
      targetId: user.id,
      after: { count: n },
    });
    return n;
  });
}
