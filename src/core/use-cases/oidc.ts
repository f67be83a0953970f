// The OIDC Auth API of the Universal Prompt (Duo Web SDK v4, duo-compat §4): client assertions, the authorize request, the code exchange.

import { type HmacKey, prepareHmacKey, randomHex, sha256Hex, timeOrderedId } from "../crypto/index.ts";
import { type JSONObject, signHS512, verifyHS512 } from "../crypto/jwt.ts";
import type { Deps } from "../deps.ts";
import type { Application, AuthFactor, LoginSession } from "../model.ts";
import type { Store } from "../ports.ts";
import { canonicalizeEmail } from "../username.ts";
import { openApplicationSecret } from "./applications.ts";
import { loginCacheOf } from "./login-cache.ts";
import { resolveIdentifier } from "./users.ts";

/** Request JWTs and client assertions may live at most this long (duo-compat §4.2, §4.4). */
export const JWT_MAX_LIFETIME_SECONDS = 300;
/** Clock difference tolerated between an application's server and ours (the SDKs allow the same, §4.5). */
export const CLOCK_SKEW_SECONDS = 60;
/** A prompt page left alone this long expires (ux.md timing table). */
export const LOGIN_IDLE_SECONDS = 600;
/** However active, a prompt login ends after this long. */
export const LOGIN_MAX_SECONDS = 3600;
/** Authorization codes are single use and live this long (J2). */
export const CODE_LIFETIME_SECONDS = 60;
/** The id_token's lifetime (the SDKs check `exp` with 60 s leeway). */
export const ID_TOKEN_LIFETIME_SECONDS = 300;
export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** RFC 6749 §4.1.2.1 / §5.2 error codes the endpoints answer with. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "access_denied";

/**
 * An OAuth error. `redirectable` says whether the browser may be sent back to the application with it: only once
 * the request JWT verified under the client's secret and its redirect URI is one the application registered.
 */
export interface OAuthFailure {
  ok: false;
  error: OAuthErrorCode;
  description: string;
  /** For operators (logs): never shown to a client. */
  detail: string;
  redirect?: { uri: string; state: string | null };
}

function fail(error: OAuthErrorCode, description: string, detail = description): OAuthFailure {
  return { ok: false, error, description, detail };
}

/** `redirect_uri?error=…&error_description=…&state=…` (RFC 6749 §4.1.2.1). */
export function errorRedirectURL(
  f: Pick<OAuthFailure, "error" | "description">,
  uri: string,
  state: string | null,
) {
  const url = new URL(uri);
  url.searchParams.set("error", f.error);
  url.searchParams.set("error_description", f.description);
  if (state !== null) url.searchParams.set("state", state);
  return url.toString();
}

function isNumericDate(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * The time claims every JWT we accept must satisfy: `exp` present, not past (with skew) and no further ahead
 * than the maximum lifetime; `iat` and `nbf`, when present, not in the future. NumericDates may be fractional
 * (duo_universal_python sends `time.time() + 300`).
 */
function checkTimes(claims: JSONObject, now: number): string | null {
  const t = now / 1000;
  const { exp, iat, nbf } = claims;
  if (!isNumericDate(exp)) return "exp is missing or not a NumericDate";
  if (exp <= t - CLOCK_SKEW_SECONDS) return "the JWT has expired";
  if (exp > t + JWT_MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) return "exp is more than 300 s ahead";
  if (iat !== undefined && (!isNumericDate(iat) || iat > t + CLOCK_SKEW_SECONDS))
    return "iat is in the future";
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > t + CLOCK_SKEW_SECONDS))
    return "nbf is in the future";
  return null;
}

function audienceMatches(aud: unknown, audiences: readonly string[]): boolean {
  if (typeof aud === "string") return audiences.includes(aud);
  return (
    Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === "string" && audiences.includes(a))
  );
}

async function webSDKApplication(deps: Deps, clientId: unknown): Promise<Application | undefined> {
  if (typeof clientId !== "string" || !/^DI[A-Z0-9]{18}$/.test(clientId)) return undefined;
  const app = await deps.store.getApplication(clientId);
  return app?.type === "web-sdk" && app.status === "active" ? app : undefined;
}

/**
 * Opened client secrets, per keyring and application, each with the sealed value it came from: a secret rotated
 * (or re-sealed under another key) no longer matches its sealed value and is opened afresh. Bounded; never logged.
 */
const openedSecrets = new WeakMap<object, Map<string, { sealed: string; key: HmacKey }>>();
const OPENED_SECRETS_MAX = 4096;

/**
 * The client secret's UTF-8 bytes, the HS512 key, prepared as a key object: opened once per sealed value, not on
 * every request.
 */
function secretKey(deps: Pick<Deps, "keyring">, app: Application): HmacKey {
  let opened = openedSecrets.get(deps.keyring);
  if (!opened) {
    opened = new Map();
    openedSecrets.set(deps.keyring, opened);
  }
  const known = opened.get(app.id);
  if (known?.sealed === app.secretSealed) return known.key;
  const key = prepareHmacKey(openApplicationSecret(deps, app).reveal());
  if (opened.size >= OPENED_SECRETS_MAX) opened.clear();
  opened.set(app.id, { sealed: app.secretSealed, key });
  return key;
}

/**
 * Check a client assertion (RFC 7523 §3, duo-compat §4.2): HS512 under the client's secret, `iss` = `sub` =
 * client_id, `aud` one of `audiences` (the endpoint's URL as the client reaches us, port included), the time
 * claims, and a `jti` never seen before: remembered in the store until the assertion expires, by one conditional
 * write, so a replay is refused on every node (J4).
 */
export async function checkClientAssertion(
  deps: Deps,
  input: { clientId: unknown; assertion: unknown; audiences: readonly string[] },
): Promise<{ ok: true; application: Application } | OAuthFailure> {
  const invalid = (detail: string) =>
    fail("invalid_client", "The provided client_assertion was invalid.", detail);
  const app = await webSDKApplication(deps, input.clientId);
  if (!app) return invalid("unknown or disabled client, or not a Web SDK application");
  const checked = verifyHS512(input.assertion, secretKey(deps, app));
  if (!checked.ok) return invalid(`client_assertion: ${checked.reason}`);
  const c = checked.claims;
  if (c["iss"] !== app.id || c["sub"] !== app.id) return invalid("iss and sub must be the client_id");
  if (!audienceMatches(c["aud"], input.audiences))
    return invalid(`aud ${JSON.stringify(c["aud"])} is not this endpoint`);
  const now = deps.clock.now();
  const times = checkTimes(c, now);
  if (times) return invalid(times);
  const jti = c["jti"];
  if (typeof jti !== "string" || jti.length < 8 || jti.length > 256) return invalid("jti is missing");
  const expiresAt = Math.ceil((c["exp"] as number) * 1000) + CLOCK_SKEW_SECONDS * 1000;
  if (!(await deps.store.claimSignedRequest(sha256Hex(`oidc-jti\n${app.id}\n${jti}`), expiresAt, now)))
    return invalid("jti replayed");
  return { ok: true, application: app };
}

export interface AuthorizeRequest {
  /** Every parameter of the request, query and form body merged (the body wins). */
  params: Readonly<Record<string, string | undefined>>;
  /** `https://{host}` as the browser reached us (and the public URL's origin): the request JWT's `aud`. */
  audiences: readonly string[];
  ip: string | null;
}

export interface StartedLogin {
  ok: true;
  /** The prompt's handle: 128 random bits, in the prompt's URL; only its hash is stored. */
  handle: string;
  session: LoginSession;
}

/**
 * `GET|POST /oauth/v1/authorize` (duo-compat §4.4): verify the request JWT under the client's secret and start a
 * login session bound to application, user, redirect URI, state and nonce. Until the JWT verifies and its
 * `redirect_uri` is one the application registered (exact string, J1), failures are shown on our own page and
 * never redirected; after that, they go back to the application as OAuth errors.
 */
export async function startLogin(
  deps: Deps,
  request: AuthorizeRequest,
): Promise<StartedLogin | OAuthFailure> {
  const p = request.params;
  const app = await webSDKApplication(deps, p["client_id"]);
  if (!app)
    return fail(
      "unauthorized_client",
      "Unknown client.",
      "unknown or disabled client_id, or not a Web SDK application",
    );
  if (!p["request"]) return fail("invalid_request", "The request parameter is missing.");
  const checked = verifyHS512(p["request"], secretKey(deps, app));
  if (!checked.ok)
    return fail("invalid_request", "The request could not be verified.", `request JWT: ${checked.reason}`);
  const c = checked.claims;
  if (c["client_id"] !== app.id)
    return fail("invalid_request", "The request does not match the client.", "client_id claim differs");
  const redirectURI = c["redirect_uri"];
  if (typeof redirectURI !== "string" || !(app.redirectURIs ?? []).includes(redirectURI))
    return fail(
      "invalid_request",
      "The redirect URI is not registered for this application.",
      `redirect_uri ${JSON.stringify(redirectURI)} not registered`,
    );
  if (p["redirect_uri"] !== undefined && p["redirect_uri"] !== redirectURI)
    return fail(
      "invalid_request",
      "The redirect URI does not match the request.",
      "query redirect_uri differs from the JWT's",
    );

  // From here on the application may be told: its registered URI, its own state.
  const state =
    typeof c["state"] === "string" && c["state"].length >= 16 && c["state"].length <= 1024
      ? c["state"]
      : null;
  const back = (error: OAuthErrorCode, description: string, detail = description): OAuthFailure => ({
    ...fail(error, description, detail),
    redirect: { uri: redirectURI, state },
  });
  if (state === null) return back("invalid_request", "state must be 16 to 1024 characters.");
  if (p["response_type"] !== undefined && p["response_type"] !== "code")
    return back("unsupported_response_type", "Only response_type=code is supported.");
  if (c["response_type"] !== "code")
    return back("unsupported_response_type", "Only response_type=code is supported.");
  if (typeof c["scope"] !== "string" || !c["scope"].split(" ").includes("openid"))
    return back("invalid_scope", "The scope must include openid.");
  const now = deps.clock.now();
  const times = checkTimes(c, now);
  if (times) return back("invalid_request", "The request has expired or is not yet valid.", times);
  if (c["iss"] !== undefined && c["iss"] !== app.id)
    return back("invalid_request", "The request's issuer is not the client.");
  if (c["aud"] !== undefined && !audienceMatches(c["aud"], request.audiences))
    return back("invalid_request", "The request is for another server.", `aud ${JSON.stringify(c["aud"])}`);
  const username = c["duo_uname"];
  if (typeof username !== "string" || username.trim() === "" || username.length > 256)
    return back("invalid_request", "duo_uname is missing.");
  const nonce = c["nonce"] ?? p["nonce"];
  if (nonce !== undefined && (typeof nonce !== "string" || nonce.length > 1024))
    return back("invalid_request", "nonce must be text.");
  const useDuoCode = c["use_duo_code_attribute"];
  if (useDuoCode !== undefined && typeof useDuoCode !== "boolean")
    return back("invalid_request", "use_duo_code_attribute must be a boolean.");
  // One login per request: the same signed request again (a URL replayed, shared or reloaded) is refused, so one
  // request cannot fill the table with logins. Remembered until the request expires, as a client assertion's jti.
  const started = await insertPendingLogin(deps, {
    app,
    username,
    redirectURI,
    state,
    nonce: typeof nonce === "string" ? nonce : null,
    useDuoCode: useDuoCode !== false,
    ip: request.ip,
    claim: {
      digests: [sha256Hex(`oidc-request\n${app.id}\n${p["request"]}`)],
      expiresAt: Math.ceil((c["exp"] as number) * 1000) + CLOCK_SKEW_SECONDS * 1000,
    },
  });
  if (started === "used")
    return back(
      "invalid_request",
      "This sign-in request was already used. Sign in again.",
      "request JWT replayed",
    );
  return { ok: true, ...started };
}

export interface TokenRequest {
  params: Readonly<Record<string, string | undefined>>;
  /** `https://{host}` as the client reached us (and the public URL's origin). */
  origins: readonly string[];
  /** `https://{host}` of this request exactly: the id_token's issuer is `{origin}/oauth/v1/token` (§4.5). */
  origin: string;
}

export interface TokenResponse {
  ok: true;
  body: { id_token: string; access_token: string; expires_in: number; token_type: "Bearer" };
}

/** Duo's names for factors in `auth_context.factor`. */
const DUO_FACTOR: Record<AuthFactor, string> = {
  push: "duo_push",
  totp: "duo_mobile_passcode",
  hotp: "duo_mobile_passcode",
  token: "hardware_token",
  bypass: "bypass_code",
  rescue: "rescue_code",
  sms: "sms_passcode",
  webauthn: "webauthn_security_key",
  remembered_device: "remembered_device",
  none: "not_available",
};

const DUO_REASON: Partial<Record<AuthFactor, string>> = {
  push: "user_approved",
  bypass: "bypass_code",
  remembered_device: "remembered_device",
};

/**
 * `POST /oauth/v1/token` (§4.5): check the client assertion, then redeem the code once (one conditional write: a
 * second use, an expired code, another client's code or a different redirect URI are all `invalid_grant`), and
 * answer with an id_token signed with the client's secret, carrying `auth_result` and the full `auth_context`.
 * Codes exist only for logins the completion gate allowed, so a token always says allow.
 */
export async function redeemCode(deps: Deps, request: TokenRequest): Promise<TokenResponse | OAuthFailure> {
  // One transaction: the assertion's jti and the code are spent together, and every failure is an answer, not a
  // rollback, so a refused exchange still uses up its assertion.
  return deps.store.transaction((store) => redeemCodeIn({ ...deps, store }, request));
}

async function redeemCodeIn(deps: Deps, request: TokenRequest): Promise<TokenResponse | OAuthFailure> {
  const p = request.params;
  const client = await checkClientAssertion(deps, {
    clientId: p["client_id"] ?? peekIssuer(p["client_assertion"]),
    assertion: p["client_assertion"],
    audiences: request.origins.map((o) => `${o}/oauth/v1/token`),
  });
  if (!client.ok) return client;
  const app = client.application;
  if (p["client_id"] !== undefined && p["client_id"] !== app.id)
    return fail("invalid_client", "client_id does not match the assertion.");
  if (p["client_assertion_type"] !== CLIENT_ASSERTION_TYPE)
    return fail("invalid_request", "client_assertion_type must be jwt-bearer.");
  if (p["grant_type"] !== "authorization_code")
    return fail("unsupported_grant_type", "grant_type must be authorization_code.");
  const code = p["code"];
  if (!code || code.length > 256) return fail("invalid_request", "The code is missing.");
  const now = deps.clock.now();
  const invalidGrant = (detail: string) =>
    fail("invalid_grant", "The code is invalid, expired or already used.", detail);
  const redeemed = await deps.store.redeemLoginSessionCode(sha256Hex(code), now);
  if (!redeemed) return invalidGrant("no unexpired, unused code with this value");
  const { session, user } = redeemed;
  if (session.applicationId !== app.id) return invalidGrant("code issued to another client");
  if (p["redirect_uri"] !== session.redirectURI)
    return invalidGrant("redirect_uri differs from the authorize request's");
  // A session with no user completes only as a new user the application let in without a factor (`none`).
  if (
    session.status !== "redeemed" ||
    (session.userId === null && session.factor !== "none") ||
    session.factor === null ||
    session.authAt === null
  )
    return invalidGrant("login not completed");
  if (user === undefined) return invalidGrant("user deleted since the login");

  const iat = Math.floor(now / 1000);
  const authTime = Math.floor(session.authAt / 1000);
  const factor = session.factor;
  const ip = session.ip;
  const location = { city: null, state: null, country: null };
  // No factor (a user in bypass status, a new user the policy lets in): the log line says why, as Duo's reason.
  const noFactorReason =
    factor === "none" && session.authTxid
      ? (await deps.store.findAuthLogByTxid(session.authTxid))?.reason
      : undefined;
  const claims: JSONObject = {
    iss: `${request.origin}/oauth/v1/token`,
    aud: app.id,
    sub: session.username,
    exp: iat + ID_TOKEN_LIFETIME_SECONDS,
    iat,
    auth_time: authTime,
    preferred_username: session.username,
    ...(session.nonce !== null ? { nonce: session.nonce } : {}),
    auth_result: { result: "allow", status: "allow", status_msg: "Login Successful" },
    auth_context: {
      txid: session.authTxid,
      timestamp: authTime,
      isotimestamp: new Date(session.authAt).toISOString(),
      event_type: "authentication",
      result: "success",
      reason: (factor === "none" ? noFactorReason : undefined) ?? DUO_REASON[factor] ?? "valid_passcode",
      factor: DUO_FACTOR[factor],
      alias: "",
      email: user?.email ?? null,
      ood_software: null,
      user: { name: user?.username ?? session.username, key: user?.id ?? null, groups: [] },
      application: { name: app.name, key: app.id },
      auth_device: { ip: null, location, name: null },
      access_device: { ip, location, hostname: null, epkey: null },
    },
  };
  return {
    ok: true,
    body: {
      id_token: signHS512(claims, secretKey(deps, app)),
      // Opaque: Twofold has no userinfo endpoint, so it is never read back (Node's SDK requires the key).
      access_token: randomHex(32),
      expires_in: ID_TOKEN_LIFETIME_SECONDS,
      token_type: "Bearer",
    },
  };
}

/** The `iss` of an unverified assertion, only to find which secret to check it with (Postman omits client_id). */
function peekIssuer(assertion: string | undefined): string | undefined {
  const part = assertion?.split(".")[1];
  if (!part) return undefined;
  try {
    const iss = (JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as JSONObject)["iss"];
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** `POST /oauth/v1/health_check` (§4.3): the client assertion must check out; the answer is the time. */
export async function healthCheck(
  deps: Deps,
  input: { params: Readonly<Record<string, string | undefined>>; origins: readonly string[] },
): Promise<{ ok: true; timestamp: number } | OAuthFailure> {
  const checked = await checkClientAssertion(deps, {
    clientId: input.params["client_id"],
    assertion: input.params["client_assertion"],
    audiences: input.origins.map((o) => `${o}/oauth/v1/health_check`),
  });
  if (!checked.ok) return checked;
  return { ok: true, timestamp: Math.floor(deps.clock.now() / 1000) };
}

/** A new pending login session (OIDC authorize, Web SDK v2 frame): its handle for the URL, only the hash stored. */
export async function insertPendingLogin(
  deps: Deps,
  input: {
    app: Application;
    username: string;
    redirectURI: string;
    state: string;
    nonce: string | null;
    useDuoCode: boolean;
    ip: string | null;
    /**
     * The signed request this login is started by, claimed with the login's insert, in one transaction (so a
     * failed insert leaves it unused): the first of `digests` still free is taken, and with none free nothing is
     * started ("used"). One request cannot so fill the table with logins; it is remembered until `expiresAt`.
     */
    claim?: { digests: readonly string[]; expiresAt: number };
  },
): Promise<{ handle: string; session: LoginSession } | "used"> {
  const handle = randomHex(16);
  const now = deps.clock.now();
  const pending = (userId: string | null): LoginSession => ({
    id: timeOrderedId("LS", now),
    handleHash: sha256Hex(handle),
    applicationId: input.app.id,
    userId,
    username: input.username,
    redirectURI: input.redirectURI,
    state: input.state,
    nonce: input.nonce,
    useDuoCode: input.useDuoCode,
    status: "pending",
    pushTxid: null,
    factor: null,
    authTxid: null,
    authAt: null,
    codeHash: null,
    codeExpiresAt: null,
    ip: input.ip,
    createdAt: now,
    expiresAt: now + LOGIN_IDLE_SECONDS * 1000,
    maxExpiresAt: now + LOGIN_MAX_SECONDS * 1000,
  });
  // A user this node has found by this very name before (the passcode check's cache): bound by the insert itself,
  // which applies only while the name is still that user's, uncontested; else the user is looked up as usual.
  const key = resolveIdentifier(deps, input.username);
  const cache = loginCacheOf(deps.store);
  const known = key === undefined ? undefined : cache.users.get(key);
  const claim = input.claim;
  const write = async (store: Store): Promise<{ handle: string; session: LoginSession } | "used"> => {
    if (claim) {
      let claimed = false;
      for (const digest of claim.digests) {
        claimed = await store.claimSignedRequest(digest, claim.expiresAt, now);
        if (claimed) break;
      }
      if (!claimed) return "used";
    }
    if (known && key !== undefined) {
      const session = pending(known.id);
      if (await store.insertLoginSessionForName(session, key)) return { handle, session };
      cache.forget(known);
    }
    const user =
      key === undefined
        ? undefined
        : await store.findUserByIdentifier(key, canonicalizeEmail(input.username));
    const session = pending(user?.id ?? null);
    await store.insertLoginSession(session);
    return { handle, session };
  };
  return claim ? deps.store.transaction(write) : write(deps.store);
}
