// Refuses state-changing browser requests sent from another site (I2: a cross-site form POST gets 403).
import type { FastifyRequest } from "fastify";
import { TwofoldError } from "../core/errors.ts";

/**
 * Browsers say where a request comes from (Fetch Metadata `Sec-Fetch-Site`, else `Origin`). Requests without
 * either (non-browser clients) pass: they carry no ambient cookies to abuse.
 */
export function isCrossSite(request: FastifyRequest, publicOrigin: string | undefined): boolean {
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  if (origin === publicOrigin) return false;
  try {
    return new URL(origin).host !== request.host;
  } catch {
    return true;
  }
}

export function requireSameOrigin(publicOrigin: string | undefined) {
  return async (request: FastifyRequest): Promise<void> => {
    if (isCrossSite(request, publicOrigin))
      throw new TwofoldError("ERR_FORBIDDEN", "Forbidden.", { detail: "cross-site request refused" });
  };
}
