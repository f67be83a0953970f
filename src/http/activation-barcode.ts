// Activation QR codes (`activation_barcode`): rendered once when the activation is made, served by an opaque handle.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { activationLink, publicBaseUrl } from "../config/load.ts";
import { TwofoldError } from "../core/errors.ts";
import type { DeviceActivationTicket } from "../core/use-cases/push.ts";
import type { ServiceRuntime } from "../runtime/runtime.ts";
import { loadQRCode } from "./qr-code.ts";

/** Requests per client address and window to /frame/qr/…: a person scans one code; a scraper gets 429. */
export const BARCODE_RATE = { requests: 30, windowMs: 60_000 };
/** Addresses remembered at most; past this the oldest window is dropped (memory stays bounded). */
const MAX_TRACKED = 10_000;

/**
 * Render the activation link's QR code (once: about 40 ms of CPU) and keep it with the activation. Duo clients
 * expect `activation_barcode` to be an image URL (duo-compat §3.4, §5.3); this one names only the opaque handle,
 * so no access log or proxy ever sees the activation secret.
 */
export async function createActivationBarcodeURL(
  runtime: ServiceRuntime,
  ticket: DeviceActivationTicket,
): Promise<string> {
  const png = await (await loadQRCode()).toBuffer(activationLink(runtime.config, ticket.token.reveal()), {
    type: "png",
    margin: 2,
    errorCorrectionLevel: "M",
    scale: 6,
  });
  const handle = await runtime.services.attachActivationBarcode(ticket.activationId, new Uint8Array(png));
  return `${publicBaseUrl(runtime.config)}/frame/qr/${handle}.png`;
}

export function registerActivationBarcodeRoute(app: FastifyInstance, runtime: ServiceRuntime): void {
  const windows = new Map<string, { start: number; count: number }>();
  const allow = (ip: string): boolean => {
    const now = runtime.clock.now();
    const w = windows.get(ip);
    if (!w || now - w.start >= BARCODE_RATE.windowMs) {
      windows.delete(ip);
      if (windows.size >= MAX_TRACKED) windows.delete(windows.keys().next().value!);
      windows.set(ip, { start: now, count: 1 });
      return true;
    }
    w.count++;
    return w.count <= BARCODE_RATE.requests;
  };

  app.get(
    "/frame/qr/:handle",
    {
      schema: {
        params: T.Object(
          { handle: T.String({ pattern: "^[0-9a-f]{32}\\.png$" }) },
          { additionalProperties: false },
        ),
        response: { 200: T.Unknown({ description: "image/png bytes" }) },
      },
    },
    async (request, reply) => {
      if (!allow(request.ip)) throw new TwofoldError("ERR_RATE_LIMITED", "too many QR code requests");
      const { handle } = request.params as { handle: string };
      const png = await runtime.services.readActivationBarcode(handle.slice(0, -4));
      // Unknown, used and expired handles look the same.
      if (!png) throw new TwofoldError("ERR_NOT_FOUND", "no such activation QR code");
      // The image holds a one-time secret: no shared cache may keep it.
      return reply.type("image/png").header("cache-control", "private, no-store").send(Buffer.from(png));
    },
  );
}
