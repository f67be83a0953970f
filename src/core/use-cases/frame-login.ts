// The legacy Web SDK v2 (Duo's iframe, duo-compat §4.6): a signed TX starts a prompt login inside the application's frame,
// and the prompt ends by handing the parent page an AUTH response it verifies with `verify_response`.

import { constantTimeEqual, hmacHex, sha256Hex } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";
import type { Application, LoginSession } from "../model.ts";
import { openApplicationSecret } from "./applications.ts";
import { insertPendingLogin } from "./oidc.ts";

/**
 * A login session started by the iframe SDK carries this as its `state` (OIDC states are 16–1024 characters, so no
 * OIDC login can have it) and the parent page's URL as its redirect URI.
 */
export const FRAME_STATE = "duo-web-v2";
/** The AUTH response is good this long (duo_web's own TX lifetime). */
const AUTH_SECONDS = 300;
/** The longest a used TX is remembered (one signed to expire later may start more logins after that). */
const CLAIM_MAX_MS = 3600_000;
/** Logins one TX may start. */
const LOGINS_PER_TX = 3;

export function isFrameLogin(session: Pick<LoginSession, "state">): boolean {
  return session.state === FRAME_STATE;
}

function secret(deps: Deps, app: Application): string {
  return openApplicationSecret(deps, app).reveal();
}

/** `PREFIX|b64(user|ikey|exp)|hmac_sha1_hex(key, "PREFIX|b64")`. */
function signValues(key: string, prefix: string, user: string, ikey: string, exp: number): string {
  const cookie = `${prefix}|${Buffer.from(`${user}|${ikey}|${exp}`).toString("base64")}`;
  return `${cookie}|${hmacHex("SHA1", key, cookie)}`;
}

export type FrameStart =
  | { ok: true; handle: string; session: LoginSession }
  | { ok: false; reason: "malformed" | "unknown_application" | "signature" | "expired" | "parent" | "used" };

/**
 * `GET /frame/web/v1/auth?tx=…&parent=…`: the TX must verify under a Web SDK application's secret key (HMAC-SHA1,
 * constant-time compare), name that application, and be unexpired; the parent page must be on an origin the
 * application registered (the origins of its redirect URIs): the prompt is then framed by that origin only.
 */
export async function startFrameLogin(
  deps: Deps,
  input: { tx: string; parent: string; ip: string | null },
): Promise<FrameStart> {
  const parts = input.tx.split("|");
  if (parts.length !== 3 || parts[0] !== "TX" || !/^[A-Za-z0-9+/=]+$/.test(parts[1]!))
    return { ok: false, reason: "malformed" };
  const values = Buffer.from(parts[1]!, "base64").toString("utf8").split("|");
  if (values.length !== 3) return { ok: false, reason: "malformed" };
  const [username, ikey, exp] = values as [string, string, string];
  const app = /^DI[A-Z0-9]{18}$/.test(ikey) ? await deps.store.getApplication(ikey) : undefined;
  if (app?.type !== "web-sdk" || app.status !== "active") return { ok: false, reason: "unknown_application" };
  if (!constantTimeEqual(hmacHex("SHA1", secret(deps, app), `TX|${parts[1]}`), parts[2]!))
    return { ok: false, reason: "signature" };
  const now = deps.clock.now();
  if (!/^\d{1,12}$/.test(exp) || Number(exp) <= now / 1000) return { ok: false, reason: "expired" };
  let parent: URL;
  try {
    parent = new URL(input.parent);
  } catch {
    return { ok: false, reason: "parent" };
  }
  const origins = (app.redirectURIs ?? []).map((u) => new URL(u).origin);
  if (!origins.includes(parent.origin) || input.parent.length > 2048) return { ok: false, reason: "parent" };
  if (username === "" || username.length > 256) return { ok: false, reason: "malformed" };
  // A few logins per TX, so one TX cannot fill the table with logins. Not one: duo_web's TX names only the user and
  // the second it expires, so two sign-in pages the application renders within a second (a double click) carry the
  // same TX. Remembered until it expires (duo_web signs it for 300 s), an hour at most.
  const started = await insertPendingLogin(deps, {
    app,
    username,
    redirectURI: input.parent,
    state: FRAME_STATE,
    nonce: null,
    useDuoCode: false,
    ip: input.ip,
    claim: {
      digests: Array.from({ length: LOGINS_PER_TX }, (_, slot) =>
        sha256Hex(`frame-tx\n${app.id}\n${slot}\n${input.tx}`),
      ),
      expiresAt: Math.min(Number(exp) * 1000, now + CLAIM_MAX_MS),
    },
  });
  if (started === "used") return { ok: false, reason: "used" };
  return { ok: true, ...started };
}

/** The AUTH response for an allowed frame login, and the one origin it may be posted to. */
export function frameAuthResponse(
  deps: Deps,
  session: LoginSession,
  app: Application,
): { parentOrigin: string; message: string } {
  const exp = Math.floor(deps.clock.now() / 1000) + AUTH_SECONDS;
  return {
    parentOrigin: new URL(session.redirectURI).origin,
    message: signValues(secret(deps, app), "AUTH", session.username, app.id, exp),
  };
}
