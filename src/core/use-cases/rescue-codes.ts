// Rescue codes: a set of single-use codes of 80 bits each, shown once; a new set voids the old one (C1, C3).
import { randomId, randomString } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import type { RescueCode } from "../model.ts";
import { formatRescueCode, RESCUE_ALPHABET, RESCUE_LENGTH } from "../passcode.ts";
import { Secret } from "../secret.ts";
import { notify } from "./notify.ts";
import { requireUser } from "./users.ts";

/** 16 characters of a 32-letter alphabet: 80 bits each (≥ 64 required). */
export const RESCUE_CODE_BITS = RESCUE_LENGTH * Math.log2(RESCUE_ALPHABET.length);

export async function generateRescueCodes(
  deps: Deps,
  actor: Actor,
  identifier: string,
): Promise<{ codes: Secret<string[]>; setId: string }> {
  const user = await requireUser(deps, identifier);
  const now = deps.clock.now();
  const setId = randomId("RS");
  const plain: string[] = [];
  const rows: RescueCode[] = [];
  for (let i = 0; i < deps.policy.rescue.count; i++) {
    const code = randomString(RESCUE_ALPHABET, RESCUE_LENGTH);
    plain.push(formatRescueCode(code));
    rows.push({
      id: randomId("RC"),
      userId: user.id,
      setId,
      codeHash: deps.keyring.hashCode(code, user.id),
      createdAt: now,
      usedAt: null,
    });
  }
  await deps.store.transaction(async (tx) => {
    await tx.replaceRescueCodes(user.id, rows);
    await audit({ ...deps, store: tx }, actor, {
      action: "rescue.generate",
      targetType: "user",
      targetId: user.id,
      after: { setId, count: rows.length },
    });
    await notify({ ...deps, store: tx }, user.id, "rescue-codes-generated", { count: rows.length });
  });
  return { codes: new Secret(plain), setId };
}

export async function countUnusedRescueCodes(deps: Deps, identifier: string): Promise<number> {
  const user = await requireUser(deps, identifier);
  return (await deps.store.listUnusedRescueCodes(user.id)).length;
}
