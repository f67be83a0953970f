// What every use case is given: the ports, the keyring and the policy (no globals, no process state).
import type { Keyring } from "./crypto/keyring.ts";
import { maskPhoneFields } from "./mask-phone.ts";
import type { AuditInput } from "./model.ts";
import type { Policy, WebAuthnSettings } from "./policy.ts";
import type { Clock, PlaceLookup, PushDelivery, PushEvents, Store } from "./ports.ts";

export interface Deps {
  store: Store;
  keyring: Keyring;
  clock: Clock;
  policy: Policy;
  /** Shown in authenticator apps (otpauth issuer). */
  issuer: string;
  /** Domains stripped from `user@domain` before lookup (A3). */
  stripDomains: readonly string[];
  nodeName: string;
  /** Push wake-ups across nodes (and within this one). */
  pushEvents: PushEvents;
  /** Background delivery of new pushes (Web Push); absent when not configured. */
  pushDelivery?: PushDelivery;
  /** GeoIP place of a requesting IP; absent when no database is configured. */
  places?: PlaceLookup;
  /** Relying-party settings; absent where a caller built the services without them (WebAuthn then refuses). */
  webauthn?: WebAuthnSettings;
}

/** Who performed an administrative action, and from where (audit: actor, source IP). */
export interface Actor {
  name: string;
  ip?: string | null;
}

export const SYSTEM_ACTOR: Actor = { name: "system" };

export async function audit(
  deps: Pick<Deps, "store" | "clock">,
  actor: Actor,
  event: Omit<AuditInput, "actor" | "sourceIp">,
): Promise<void> {
  // The number lives only in its own row (user, phone); the audit trail keeps its last four digits (N1).
  const details = {
    ...(event.before !== undefined ? { before: maskPhoneFields(event.before) } : {}),
    ...(event.after !== undefined ? { after: maskPhoneFields(event.after) } : {}),
  };
  await deps.store.appendAudit(
    { ...event, ...details, actor: actor.name, sourceIp: actor.ip ?? null },
    deps.clock.now(),
  );
}
