// Activation QR codes (`activation_barcode`): rendered once when the activation is made, served by an opaque handle.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { activationLink, publicBaseUrl } from "../config/load.ts";
import { TwofoldError } from "../core/errors.ts";
import { throttleAddress } from "../core/throttle.ts";
import type { DeviceActivationTicket } from "../core/use-cases/push.ts";
import type { ServiceRuntime } from "../runtime/runtime.ts";
import { plainNotice } from "./prompt/context.ts";
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

/**
 * A person opened the link in a browser (it asks for HTML: a tab, not an `<img>` or a client asking for JSON or
 * `*\/*`): they get a page, not the JSON error.
 */
function wantsPage(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? "";
  return /(^|[\s,])text\/html([\s;,]|$)/.test(accept) && !/(^|[\s,])application\/json([\s;,]|$)/.test(accept);
}

/** "Too many requests", in the browser's language, with the minutes to wait and the link to try again. */
function sendLimitPage(
  runtime: ServiceRuntime,
  request: FastifyRequest,
  reply: FastifyReply,
  retryAfterSeconds: number,
): FastifyReply {
  return plainNotice(
    runtime,
    request,
    reply,
    (t) => ({
      title: t.qrLimitTitle,
      message: t.qrLimit(Math.ceil(retryAfterSeconds / 60)),
      error: true,
      actions: [{ label: t.tryAgain, href: request.url.split("?")[0]!, primary: true }],
    }),
    429,
  );
}

export function registerActivationBarcodeRoute(app: FastifyInstance, runtime: ServiceRuntime): void {
  const windows = new Map<string, { start: number; count: number }>();
  /** 0 when this address may have the code now, else the seconds until its window is over. */
  const wait = (ip: string): number => {
    const now = runtime.clock.now();
    const w = windows.get(ip);
    if (!w || now - w.start >= BARCODE_RATE.windowMs) {
      windows.delete(ip);
      if (windows.size >= MAX_TRACKED) windows.delete(windows.keys().next().value!);
      windows.set(ip, { start: now, count: 1 });
      return 0;
    }
    w.count++;
    return w.count <= BARCODE_RATE.requests
      ? 0
      : Math.max(1, Math.ceil((w.start + BARCODE_RATE.windowMs - now) / 1000));
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
      // An IPv6 /64 is one address here, as in every other limit per source.
      const retryAfter = wait(throttleAddress(request.ip) ?? request.ip);
      if (retryAfter > 0) {
        reply.header("retry-after", String(retryAfter)).header("cache-control", "no-store");
        if (wantsPage(request)) return sendLimitPage(runtime, request, reply, retryAfter);
        throw new TwofoldError("ERR_RATE_LIMITED", "too many QR code requests");
      }
      const { handle } = request.params as { handle: string };
      const png = await runtime.services.readActivationBarcode(handle.slice(0, -4));
      // Unknown, used and expired handles look the same.
      if (!png) throw new TwofoldError("ERR_NOT_FOUND", "no such activation QR code");
      // The image holds a one-time secret: no shared cache may keep it.
      return reply.type("image/png").header("cache-control", "private, no-store").send(Buffer.from(png));
    },
  );
}
