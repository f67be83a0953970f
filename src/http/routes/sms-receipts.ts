// POST /sms/v1/receipts/:gateway : an HTTP SMS provider's delivery-status callback, authenticated by its signature or a shared token, recorded on the outbox message by the provider's message id.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { publicBaseUrl } from "../../config/load.ts";
import { TwofoldError } from "../../core/errors.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";

const Params = T.Object(
  { gateway: T.String({ minLength: 1, maxLength: 32, pattern: "^[A-Za-z0-9._-]+$" }) },
  { additionalProperties: false },
);
/** Providers post a form (Twilio, Vonage) or JSON (Telnyx, Sinch): a flat or nested object, small. */
const Body = T.Record(T.String({ maxLength: 64 }), T.Unknown(), { maxProperties: 100 });
const Answer = T.Object(
  { status: T.Union([T.Literal("recorded"), T.Literal("ignored")]) },
  { additionalProperties: false },
);

export function registerSmsReceiptRoutes(app: FastifyInstance, runtime: ServiceRuntime): void {
  const base = publicBaseUrl(runtime.config);
  app.post<{ Params: { gateway: string }; Body: Record<string, unknown> }>(
    "/sms/v1/receipts/:gateway",
    { schema: { params: Params, body: Body, response: { 200: Answer } } },
    async (request) => {
      const reading = runtime.readSmsReceipt(request.params.gateway, {
        // The URL the provider called and signed: the public one.
        url: `${base}${request.url}`,
        headers: request.headers,
        body: request.body,
      });
      if (!reading) throw new TwofoldError("ERR_NOT_FOUND", "no HTTP SMS gateway of that name");
      if (!reading.ok) {
        request.log.warn({ gateway: request.params.gateway, code: reading.code }, "SMS receipt refused");
        throw new TwofoldError(reading.code, reading.message);
      }
      // An interim status (queued, sent) changes nothing.
      const receipt = reading.receipt;
      if (!receipt) return { status: "ignored" as const };
      if (await runtime.services.recordDeliveryReceipt(receipt)) return { status: "recorded" as const };
      // Settled already (a provider's retry), or no send of that id recorded yet: a fast provider's callback can
      // overtake the sending node's record of the send by a few milliseconds. Tried again shortly, in the background.
      retryLater(runtime, receipt, request.log);
      return { status: "ignored" as const };
    },
  );
}

/** Delays before an unmatched final receipt is tried again (the send's record is a commit away). */
const RETRY_MS = [1000, 5000];

function retryLater(
  runtime: ServiceRuntime,
  receipt: Parameters<ServiceRuntime["services"]["recordDeliveryReceipt"]>[0],
  log: { warn(fields: Record<string, unknown>, message: string): void },
  attempt = 0,
): void {
  const delay = RETRY_MS[attempt];
  if (delay === undefined) return;
  const timer = setTimeout(() => {
    runtime.services
      .recordDeliveryReceipt(receipt)
      .then((recorded) => {
        if (!recorded) retryLater(runtime, receipt, log, attempt + 1);
      })
      .catch((err: unknown) =>
        log.warn({ err, gateway: receipt.gateway }, "a delivery receipt could not be recorded"),
      );
  }, delay);
  // A pending retry never keeps a stopping process alive.
  timer.unref();
}
