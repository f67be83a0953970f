// Shared set-up of the SMS guard tests: a real store, a test clock, the organisation in Hong Kong, and an alert sink.
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import type { OperatorAlert } from "../../src/core/ports.ts";
import { createServices, type Services } from "../../src/core/services.ts";
import type { SmsSendDecision, SmsSendRequest } from "../../src/core/use-cases/sms-guard.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import type { DialectName } from "../support/stores.ts";

export interface GuardContext {
  t: TestContext;
  services: Services;
  /** Every operator alert raised, in order. */
  alerts: OperatorAlert[];
  /** Ask for one text now (the test clock's time), from user/number/address/application given or defaulted. */
  send(request: Partial<SmsSendRequest>): Promise<SmsSendDecision>;
  close(): Promise<void>;
}

/** A fresh database with the guard's shipped defaults, the organisation in HK, and these settings on top. */
export async function createGuardContext(
  dialect: DialectName,
  overrides: Record<string, unknown> = {},
): Promise<GuardContext> {
  const t = await createTestContext(dialect, { "organization.country": "HK", ...overrides });
  const alerts: OperatorAlert[] = [];
  let closed: Promise<void> | undefined;
  const services = createServices({
    store: t.store,
    keyring: t.keyring,
    clock: t.clock,
    config: t.config,
    nodeName: "test-node",
    pushEvents: new LocalPushEvents(),
    alerts: { raise: (alert) => alerts.push(alert) },
  });
  return {
    t,
    services,
    alerts,
    send: (r) =>
      services.decideSmsSend({
        userId: "U-default",
        phoneE164: "+85291234567",
        ip: "192.0.2.1",
        applicationId: "DIAPP",
        purpose: "passcode",
        now: t.clock.now(),
        ...r,
      }),
    // Idempotent: a test closes its context, and the suite's after hook closes whatever a failed test left open.
    close: () => {
      closed ??= t.close();
      return closed;
    },
  };
}

/** A valid Hong Kong mobile number: prefix `+852` and `first4`, then `last4` as given. */
export function hkNumber(first4: string, last4: number): string {
  return `+852${first4}${String(last4).padStart(4, "0")}`;
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
