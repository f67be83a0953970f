// Refuses state-changing browser requests sent from another site (I2: a cross-site form POST gets 403).
import type { FastifyRequest } from "fastify";
import { TwofoldError } from "../core/errors.ts";

/**
 * The origin a browser shows for this server: the configured public URL's, else the scheme and Host of the
 * request (through trusted proxies' X-Forwarded-Proto/Host when server.trustProxy lists them). Behind a proxy
 * that rewrites Host or terminates TLS, set server.publicUrl: then only that origin is ours.
 */
function ownOrigin(request: FastifyRequest, publicOrigin: string | undefined): string | undefined {
  if (publicOrigin) return publicOrigin;
  try {
    return new URL(`${request.protocol}://${request.host}`).origin;
  } catch {
    return undefined;
  }
}

/**
 * Is this a request a browser sent from a page that is not ours? Decided from what only the browser can set:
 * - `Origin`, when it names an origin, must equal ours exactly (scheme, host and port; RFC 6454 §7).
 * - `Sec-Fetch-Site` (Fetch Metadata), when sent, must be `same-origin`: `same-site` (a sibling subdomain),
 *   `cross-site` and `none` (nothing a page of ours would send with a POST) are refused.
 * - `Origin: null` (a page with `Referrer-Policy: no-referrer`, a sandboxed frame, a redirect) is ours only
 *   when `Sec-Fetch-Site: same-origin` vouches for it; without that header it is refused.
 * A request with neither header comes from no browser (curl, a script): it carries no ambient credentials
 * a forged form could borrow, so it passes.
 */
export function isCrossSite(request: FastifyRequest, publicOrigin: string | undefined): boolean {
  const site = request.headers["sec-fetch-site"];
  const origin = request.headers.origin;
  if (site !== undefined && site !== "same-origin") return true;
  if (origin === undefined) return false;
  if (origin === "null") return site !== "same-origin";
  return origin !== ownOrigin(request, publicOrigin);
}

export function requireSameOrigin(publicOrigin: string | undefined) {
  return async (request: FastifyRequest): Promise<void> => {
    if (isCrossSite(request, publicOrigin))
      throw new TwofoldError("ERR_FORBIDDEN", "Forbidden.", { detail: "cross-site request refused" });
  };
}
