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
      // An interim status (queued, sent), or a receipt for a message already settled (a provider's retry).
      if (!reading.receipt) return { status: "ignored" as const };
      const recorded = await runtime.services.recordDeliveryReceipt(reading.receipt);
      return { status: recorded ? ("recorded" as const) : ("ignored" as const) };
    },
  );
}
