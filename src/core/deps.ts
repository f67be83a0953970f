// What every use case is given: the ports, the keyring and the policy (no globals, no process state).
import type { Keyring } from "./crypto/keyring.ts";
import { maskPhoneFields } from "./mask-phone.ts";
import type { AuditInput } from "./model.ts";
import type { Policy, WebAuthnSettings } from "./policy.ts";
import type {
  Clock,
  MailTransport,
  OperatorAlerts,
  PlaceLookup,
  PushDelivery,
  PushEvents,
  SMSGateway,
  Store,
} from "./ports.ts";

/** What happened to an outbox message, for the runtime's log (ids and gateway names only: never a number or text). */
export interface OutboxEvent {
  event: "sent" | "retry" | "failed" | "expired" | "unknown" | "receipt" | "refused";
  id: string;
  channel: string;
  kind: string;
  gateway?: string | null;
  attempts?: number;
  error?: string;
  delivered?: boolean;
}

/** How messages leave (SMS gateways, the mail transport) and the outbox's rules. */
export interface Messaging {
  /** SMS gateways in order of preference: each attempt tries them in turn (fail-over). */
  sms: readonly SMSGateway[];
  mail?: MailTransport;
  /** The language of e-mail to users who have not chosen one. */
  mailLanguage: "en" | "zh-Hant";
  /** This process's name as a lease owner (node name and process id). */
  owner: string;
  /** The sender name put on texts. */
  sender: string;
  /** How long a login waits for a gateway to take its text. */
  sendDeadlineMs: number;
  outbox: {
    leaseSeconds: number;
    retryBaseSeconds: number;
    retryMaxSeconds: number;
    maxAttempts: number;
    maxUnsent: number;
  };
  onEvent?: (event: OutboxEvent) => void;
}

import type { SmsGuardPolicy } from "./sms-guard-rules.ts";

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
  /** SMS and e-mail delivery through the outbox; absent when nothing is configured (no texts are offered). */
  messaging?: Messaging;
  /** SMS quotas, destination countries, spend cap and conversion breaker (E3). */
  smsGuard: SmsGuardPolicy;
  /** Operator alerts (log line, e-mail); absent in tests that do not listen. */
  alerts?: OperatorAlerts;
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
