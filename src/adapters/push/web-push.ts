// Web Push delivery of push approvals: RFC 8291 payload encryption, RFC 8292 VAPID, RFC 8030 delivery.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

import { verifyP256Signature } from "../../core/crypto/ecdsa.ts";
import {
  computeP256SharedSecret,
  decryptAES128GCM,
  deriveHKDF,
  deriveP256PublicKey,
  encryptAES128GCM,
  generateP256KeyPair,
  randomBytes,
  signES256,
} from "../../core/crypto/index.ts";
import { TwofoldError } from "../../core/errors.ts";
import type { Clock } from "../../core/ports.ts";
import type { Secret } from "../../core/secret.ts";
import { checkPushEndpointURL, createCheckedLookup, type PushAddressPolicy } from "./push-address.ts";

/** What a user agent hands the application server when it subscribes (W3C Push API `PushSubscription.toJSON()`). */
export interface PushSubscription {
  endpoint: string;
  keys: {
    /** base64url, the user agent's ECDH public key: a 65-byte uncompressed P-256 point. */
    p256dh: string;
    /** base64url, the 16-byte authentication secret (RFC 8291 §3.2). */
    auth: string;
  };
}

/** The user agent's side of a subscription: what it needs to read messages sent to it. */
export interface WebPushReceiver {
  privateKey: Secret<Uint8Array>;
  publicKeyRaw: Uint8Array;
  authSecret: Uint8Array;
}

/** The application server's signing identity (RFC 8292 §2). */
export interface VAPIDKeys {
  /** 65-byte uncompressed P-256 point, sent as `k`. */
  publicKeyRaw: Uint8Array;
  privateKey: Secret<Uint8Array>;
  /** Contact for the push service operator: a `mailto:` or `https:` URI (RFC 8292 §2.1). */
  subject: string;
}

export type WebPushUrgency = "very-low" | "low" | "normal" | "high";

export interface EncryptWebPushOptions {
  /** The `rs` header field; 4096 unless set. */
  recordSize?: number;
  /**
   * Fixed ephemeral key pair and salt, for reproducing RFC 8291 Appendix A only. Reusing them for two messages
   * reuses the AES-GCM key and nonce, which breaks confidentiality, so production code never passes this.
   */
  testOnlyEphemeral?: { keyPair: { privateKey: Uint8Array; publicKeyRaw: Uint8Array }; salt: Uint8Array };
}

/** RFC 8291 §4: a push service need accept only 4096 octets of body. */
export const MAX_BODY_BYTES = 4096;
const SALT_BYTES = 16;
const POINT_BYTES = 65;
const AUTH_SECRET_BYTES = 16;
const TAG_BYTES = 16;
/** salt(16) ‖ rs(4) ‖ idlen(1) ‖ keyid(65), RFC 8188 §2.1 with RFC 8291 §4's keyid. */
const HEADER_BYTES = SALT_BYTES + 4 + 1 + POINT_BYTES;
/** 4096 − 86 header − 1 delimiter − 16 tag = 3993 octets (RFC 8291 §4). */
export const MAX_PLAINTEXT_BYTES = MAX_BODY_BYTES - HEADER_BYTES - 1 - TAG_BYTES;
/** RFC 8188 §2: the padding delimiter of the last record. */
const LAST_RECORD_DELIMITER = 0x02;
/** RFC 8292 §2: `exp` MUST NOT be more than 24 hours after the request. */
const MAX_VAPID_LIFETIME_SECONDS = 24 * 3600;

const textEncoder = new TextEncoder();
const KEY_INFO_PREFIX = textEncoder.encode("WebPush: info\0");
const CEK_INFO = textEncoder.encode("Content-Encoding: aes128gcm\0");
const NONCE_INFO = textEncoder.encode("Content-Encoding: nonce\0");

/**
 * Encrypts a push message to one subscription (RFC 8291 §3) as a single `aes128gcm` record (RFC 8188 §2) with a
 * fresh ephemeral key pair and salt. Returns the whole request body: header ‖ ciphertext.
 */
export function encryptWebPushPayload(
  subscription: PushSubscription,
  plaintext: Uint8Array,
  options: EncryptWebPushOptions = {},
): Uint8Array {
  const uaPublic = decodeBase64url(subscription.keys.p256dh, "p256dh");
  const authSecret = decodeBase64url(subscription.keys.auth, "auth");
  if (uaPublic.length !== POINT_BYTES || uaPublic[0] !== 0x04)
    throw new TwofoldError("ERR_VALIDATION", "subscription p256dh is not an uncompressed P-256 point");
  if (authSecret.length !== AUTH_SECRET_BYTES)
    throw new TwofoldError("ERR_VALIDATION", "subscription auth secret is not 16 bytes");
  const recordSize = options.recordSize ?? MAX_BODY_BYTES;
  if (plaintext.length > MAX_PLAINTEXT_BYTES)
    throw new TwofoldError("ERR_VALIDATION", `push payload exceeds ${MAX_PLAINTEXT_BYTES} bytes`, {
      detail: `length=${plaintext.length}`,
    });
  // RFC 8291 §4: one record, so rs must exceed plaintext + delimiter + tag; RFC 8188 §2 puts rs in 32 bits.
  if (
    !Number.isInteger(recordSize) ||
    recordSize <= plaintext.length + 1 + TAG_BYTES ||
    recordSize > 0xffffffff
  )
    throw new TwofoldError("ERR_VALIDATION", "record size cannot hold the payload in one record");

  const ephemeral = options.testOnlyEphemeral;
  const asKeys = ephemeral?.keyPair ?? generateP256KeyPair();
  const salt = ephemeral?.salt ?? randomBytes(SALT_BYTES);
  if (salt.length !== SALT_BYTES) throw new TwofoldError("ERR_VALIDATION", "salt must be 16 bytes");

  // RFC 8291 §3.1: the application server combines its ephemeral private key with the user agent's public key.
  const ecdhSecret = computeP256SharedSecret(asKeys.privateKey, uaPublic);
  const { cek, nonce } = deriveContentKeys(ecdhSecret, authSecret, uaPublic, asKeys.publicKeyRaw, salt);

  // RFC 8188 §2: the last (here the only) record is data ‖ 0x02, with no further padding.
  const record = new Uint8Array(plaintext.length + 1);
  record.set(plaintext);
  record[plaintext.length] = LAST_RECORD_DELIMITER;
  const ciphertext = encryptAES128GCM(cek, nonce, record);

  const body = new Uint8Array(HEADER_BYTES + ciphertext.length);
  body.set(salt, 0);
  new DataView(body.buffer).setUint32(SALT_BYTES, recordSize);
  body[SALT_BYTES + 4] = POINT_BYTES;
  // RFC 8291 §4: the keyid is the application server's public key, all 65 octets of it.
  body.set(asKeys.publicKeyRaw, SALT_BYTES + 5);
  body.set(ciphertext, HEADER_BYTES);
  return body;
}

/**
 * The user agent's side (RFC 8291 §3, RFC 8188 §2): reads the header, agrees the key with the sender's keyid, opens
 * the single record and strips its padding. Anything malformed, altered or meant for another receiver fails with
 * ERR_DECRYPT, whose message says which step failed and never what the message or the keys hold.
 */
export function decryptWebPushPayload(body: Uint8Array, receiver: WebPushReceiver): Uint8Array {
  if (body.length < HEADER_BYTES + TAG_BYTES + 1)
    throw new TwofoldError("ERR_DECRYPT", "push message shorter than its header and one record");
  const salt = body.subarray(0, SALT_BYTES);
  const recordSize = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(SALT_BYTES);
  const idLength = body[SALT_BYTES + 4];
  // RFC 8291 §4: the keyid is exactly the sender's uncompressed point.
  if (idLength !== POINT_BYTES) throw new TwofoldError("ERR_DECRYPT", "keyid is not a 65-byte P-256 point");
  const asPublic = body.subarray(SALT_BYTES + 5, HEADER_BYTES);
  const ciphertext = body.subarray(HEADER_BYTES);
  // RFC 8188 §2: rs is at least 18; RFC 8291 §4: a push message is one record, so it cannot be longer than rs.
  if (recordSize < TAG_BYTES + 2 || ciphertext.length > recordSize)
    throw new TwofoldError("ERR_DECRYPT", "push message is not a single aes128gcm record");

  let ecdhSecret: Uint8Array;
  try {
    ecdhSecret = computeP256SharedSecret(receiver.privateKey.reveal(), asPublic);
  } catch (cause) {
    throw new TwofoldError("ERR_DECRYPT", "sender key is not a P-256 point", { cause });
  }
  const { cek, nonce } = deriveContentKeys(
    ecdhSecret,
    receiver.authSecret,
    receiver.publicKeyRaw,
    asPublic,
    salt,
  );
  const record = decryptAES128GCM(cek, nonce, ciphertext);

  // RFC 8188 §2: padding is zeros after the delimiter; RFC 8291 §4: a delimiter other than 0x02 MUST be refused.
  let end = record.length - 1;
  while (end >= 0 && record[end] === 0) end--;
  if (end < 0 || record[end] !== LAST_RECORD_DELIMITER)
    throw new TwofoldError("ERR_DECRYPT", "push message record lacks the last-record delimiter");
  return record.slice(0, end);
}

/** RFC 8291 §3.3–3.4 and RFC 8188 §2.2–2.3: from the ECDH and authentication secrets to the CEK and nonce. */
function deriveContentKeys(
  ecdhSecret: Uint8Array,
  authSecret: Uint8Array,
  uaPublic: Uint8Array,
  asPublic: Uint8Array,
  salt: Uint8Array,
): { cek: Uint8Array; nonce: Uint8Array } {
  // key_info = "WebPush: info" ‖ 0x00 ‖ ua_public ‖ as_public; the auth secret is HKDF's salt (§3.3).
  const keyInfo = concat(KEY_INFO_PREFIX, uaPublic, asPublic);
  const ikm = deriveHKDF(ecdhSecret, authSecret, keyInfo, 32);
  // With one record the sequence number is 0, so the nonce needs no XOR (RFC 8291 §3.4).
  return {
    cek: deriveHKDF(ikm, salt, CEK_INFO, 16),
    nonce: deriveHKDF(ikm, salt, NONCE_INFO, 12),
  };
}

// ---- VAPID (RFC 8292)

export interface VAPIDClaims {
  aud: string;
  exp: number;
  sub?: string;
}

/** What a push service learns from a valid `vapid` Authorization: who signed, and the claims. */
export interface VAPIDIdentity {
  publicKeyRaw: Uint8Array;
  claims: VAPIDClaims;
}

/**
 * The `Authorization` header value for a push request to `endpoint` (RFC 8292 §3): `vapid t=<JWT>, k=<key>`.
 * The JWT is ES256-signed with aud = the endpoint's origin (§2), exp = now + ttl (at most 24 h), sub = subject.
 */
export function createVAPIDAuthorization(
  endpoint: string,
  vapid: VAPIDKeys,
  nowSeconds: number,
  ttlSeconds = 12 * 3600,
): string {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_VAPID_LIFETIME_SECONDS)
    throw new TwofoldError("ERR_VALIDATION", "VAPID token lifetime must be between 1 s and 24 h");
  if (!/^(mailto:|https:)/.test(vapid.subject))
    throw new TwofoldError("ERR_VALIDATION", "VAPID subject must be a mailto: or https: URI");
  if (vapid.publicKeyRaw.length !== POINT_BYTES || vapid.publicKeyRaw[0] !== 0x04)
    throw new TwofoldError("ERR_VALIDATION", "VAPID public key is not an uncompressed P-256 point");
  const claims: VAPIDClaims = {
    aud: originOf(endpoint),
    exp: Math.floor(nowSeconds) + ttlSeconds,
    sub: vapid.subject,
  };
  const signingInput = createVAPIDSigningInput(claims);
  const signature = signES256(vapid.privateKey.reveal(), signingInput);
  return `vapid t=${signingInput}.${encodeBase64url(signature)}, k=${encodeBase64url(vapid.publicKeyRaw)}`;
}

/** The JWS signing input `header.claims` (RFC 7515 §5.1), with the header RFC 8292 §2.4 shows. */
export function createVAPIDSigningInput(claims: VAPIDClaims): string {
  const header = { typ: "JWT", alg: "ES256" };
  return `${encodeBase64url(textEncoder.encode(JSON.stringify(header)))}.${encodeBase64url(
    textEncoder.encode(JSON.stringify(claims)),
  )}`;
}

/**
 * The push service's check of a `vapid` Authorization (RFC 8292 §4.2): both parameters present, the signature
 * verifies under `k`, `aud` names this origin, and now ≤ exp ≤ now + 24 h. Throws ERR_UNAUTHENTICATED naming
 * the failed check; the token itself stays out of the error.
 */
export function verifyVAPIDAuthorization(
  header: string | undefined,
  endpointOrigin: string,
  nowSeconds: number,
): VAPIDIdentity {
  const refuse = (why: string): never => {
    throw new TwofoldError("ERR_UNAUTHENTICATED", `VAPID authorization refused: ${why}`);
  };
  const match = /^vapid\s+(.*)$/is.exec(header?.trim() ?? "");
  if (!match) return refuse("not the vapid scheme");
  const params = new Map<string, string>();
  for (const part of match[1]!.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/s, "$1");
    // RFC 8292 §3: unknown parameters are ignored; a repeated one is ambiguous.
    if (params.has(name)) return refuse(`parameter ${name} repeated`);
    params.set(name, value);
  }
  const token = params.get("t");
  const key = params.get("k");
  if (!token || !key) return refuse("t or k missing");

  const publicKeyRaw = tryDecodeBase64url(key);
  if (!publicKeyRaw || publicKeyRaw.length !== POINT_BYTES || publicKeyRaw[0] !== 0x04)
    return refuse("k is not an uncompressed P-256 point");
  const parts = token.split(".");
  if (parts.length !== 3) return refuse("t is not a compact JWS");
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const jwsHeader = parseJSONPart(headerPart);
  // RFC 8292 §2: ES256 only; anything else (including "none") is refused before the signature is looked at.
  if (jwsHeader?.["alg"] !== "ES256") return refuse("alg is not ES256");
  const signature = tryDecodeBase64url(signaturePart);
  if (
    !signature ||
    !verifyP256Signature(publicKeyRaw, textEncoder.encode(`${headerPart}.${claimsPart}`), signature)
  )
    return refuse("signature does not verify under k");

  const claims = parseJSONPart(claimsPart);
  if (!claims) return refuse("claims are not a JSON object");
  const aud = claims["aud"];
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.includes(endpointOrigin)) return refuse("aud is not this push service");
  const exp = claims["exp"];
  if (typeof exp !== "number" || !Number.isFinite(exp)) return refuse("exp missing");
  if (nowSeconds > exp) return refuse("token expired");
  if (exp - nowSeconds > MAX_VAPID_LIFETIME_SECONDS) return refuse("exp more than 24 hours ahead");
  const sub = claims["sub"];
  return {
    publicKeyRaw,
    claims: { aud: endpointOrigin, exp, ...(typeof sub === "string" ? { sub } : {}) },
  };
}

/**
 * The Unicode serialization of a URL's origin (RFC 6454 §6.1), which RFC 8292 §2 puts in `aud`. WHATWG URL gives
 * the ASCII form; for push services' ASCII host names the two are the same.
 */
function originOf(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (cause) {
    throw new TwofoldError("ERR_VALIDATION", "push endpoint is not a URL", { cause });
  }
  if (url.origin === "null") throw new TwofoldError("ERR_VALIDATION", "push endpoint has no origin");
  return url.origin;
}

function parseJSONPart(part: string): Record<string, unknown> | undefined {
  const bytes = tryDecodeBase64url(part);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// ---- Delivery (RFC 8030 §5)

export interface WebPushSendOptions {
  /** RFC 8030 §5.2: how long the push service keeps an undelivered message; 0 = deliver now or never. */
  ttlSeconds: number;
  /** RFC 8030 §5.3: `normal` when omitted. */
  urgency?: WebPushUrgency;
  /** RFC 8030 §5.4: a newer message with the same topic replaces an undelivered older one. */
  topic?: string;
}

export interface WebPushSendResult {
  status: number;
  /** The subscription no longer exists (404, RFC 8030 §7.3, or 410 as services also send): forget it. */
  gone: boolean;
}

export interface WebPushSenderOptions {
  vapid: VAPIDKeys;
  clock: Clock;
  /** Abort a request that has not been answered in this long; 5000 unless set. */
  timeoutMs?: number;
  /** VAPID token lifetime; tokens are reused until half of it is left (RFC 8292 §4 encourages reuse). */
  vapidTTLSeconds?: number;
  /** RFC 8030 §8 requires HTTPS; only tests against a local push service set this. */
  allowInsecureHTTP?: boolean;
  /** Push service hosts (and their subdomains) messages may go to (push.webPush.allowedHosts); `*`: any. */
  allowedHosts: readonly string[];
  /** Tests with a push service on this machine only: loopback addresses are allowed. Never in production. */
  allowLoopback?: boolean;
  /** Name resolution for the address check (tests); the system resolver unless set. */
  resolve?: PushAddressPolicy["resolve"];
}

const URGENCIES: readonly WebPushUrgency[] = ["very-low", "low", "normal", "high"];
/** RFC 8030 §5.4: at most 32 characters of the URL- and filename-safe base64 alphabet (RFC 4648 §5). */
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;
/** RFC 8030 §5.2: TTL is delta-seconds, which RFC 7234 §1.2.1 caps at 2^31. */
const MAX_TTL_SECONDS = 2 ** 31 - 1;

/**
 * Sends JSON push messages to Web Push subscriptions. Answers 2xx and 4xx come back as a status (the caller
 * decides about retries and forgets `gone` subscriptions); only an unreachable or silent push service throws.
 */
export class WebPushSender {
  readonly #vapid: VAPIDKeys;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #vapidTTL: number;
  readonly #policy: PushAddressPolicy;
  readonly #tokens = new Map<string, { authorization: string; exp: number }>();

  constructor(options: WebPushSenderOptions) {
    const derived = deriveP256PublicKey(options.vapid.privateKey.reveal());
    if (!equalBytes(derived, options.vapid.publicKeyRaw))
      throw new TwofoldError("ERR_VALIDATION", "VAPID public key does not belong to the private key");
    this.#vapid = options.vapid;
    this.#clock = options.clock;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#vapidTTL = options.vapidTTLSeconds ?? 12 * 3600;
    this.#policy = {
      allowedHosts: options.allowedHosts,
      allowHTTP: options.allowInsecureHTTP ?? false,
      allowLoopback: options.allowLoopback ?? false,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    };
  }

  async send(
    subscription: PushSubscription,
    payload: object,
    options: WebPushSendOptions,
  ): Promise<WebPushSendResult> {
    const endpoint = checkPushEndpointURL(subscription.endpoint, this.#policy);
    const headers: Record<string, string> = {
      // RFC 8291 §4: exactly one content coding, aes128gcm, and nothing that compresses.
      "Content-Encoding": "aes128gcm",
      "Content-Type": "application/octet-stream",
      TTL: String(checkTTL(options.ttlSeconds)),
    };
    if (options.urgency !== undefined) {
      if (!URGENCIES.includes(options.urgency))
        throw new TwofoldError("ERR_VALIDATION", "urgency must be very-low, low, normal or high");
      headers["Urgency"] = options.urgency;
    }
    if (options.topic !== undefined) {
      if (!TOPIC.test(options.topic))
        throw new TwofoldError("ERR_VALIDATION", "topic must be 1-32 base64url characters");
      headers["Topic"] = options.topic;
    }
    const body = encryptWebPushPayload(subscription, textEncoder.encode(JSON.stringify(payload)));
    headers["Authorization"] = this.#authorization(endpoint);

    let status: number;
    try {
      status = await this.#post(endpoint, headers, body);
    } catch (cause) {
      if (cause instanceof TwofoldError) throw cause;
      // The endpoint path is a capability (anyone holding it can push), so only the origin is recorded.
      throw new TwofoldError("ERR_INTERNAL", "push service did not answer", {
        cause,
        detail: `origin=${endpoint.origin} error=${cause instanceof Error ? cause.name : "unknown"}`,
      });
    }
    return { status, gone: status === 404 || status === 410 };
  }

  /**
   * One POST, connected to an address the checked lookup approved (no SSRF, no DNS rebinding between check and
   * connect). A redirect is answered as its status: following one would send the request elsewhere.
   */
  #post(endpoint: URL, headers: Record<string, string>, body: Uint8Array): Promise<number> {
    const send = endpoint.protocol === "https:" ? httpsRequest : httpRequest;
    const lookup = createCheckedLookup(this.#policy);
    return new Promise<number>((resolve, reject) => {
      const req = send(
        endpoint,
        {
          method: "POST",
          headers: { ...headers, "Content-Length": String(body.length) },
          lookup,
          agent: false,
          signal: AbortSignal.timeout(this.#timeoutMs),
        },
        (res) => {
          // Read and drop the answer's body: only its status matters.
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        },
      );
      // A refusal by the checked lookup arrives here as it was thrown (a TwofoldError), before any byte is sent.
      req.on("error", reject);
      req.end(body);
    });
  }

  /** One token per push service origin, reused while more than half its lifetime is left. */
  #authorization(endpoint: URL): string {
    const now = Math.floor(this.#clock.now() / 1000);
    const cached = this.#tokens.get(endpoint.origin);
    if (cached && cached.exp - now > this.#vapidTTL / 2) return cached.authorization;
    const authorization = createVAPIDAuthorization(endpoint.href, this.#vapid, now, this.#vapidTTL);
    this.#tokens.set(endpoint.origin, { authorization, exp: now + this.#vapidTTL });
    return authorization;
  }
}

function checkTTL(ttlSeconds: number): number {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > MAX_TTL_SECONDS)
    throw new TwofoldError("ERR_VALIDATION", "TTL must be a whole number of seconds, 0 or more");
  return ttlSeconds;
}

// ---- bytes

function encodeBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** Strict base64url (RFC 4648 §5, no padding): Buffer's decoder skips characters it does not know. */
function tryDecodeBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  return new Uint8Array(Buffer.from(text, "base64url"));
}

function decodeBase64url(text: string, field: string): Uint8Array {
  const bytes = tryDecodeBase64url(text);
  if (!bytes) throw new TwofoldError("ERR_VALIDATION", `subscription ${field} is not base64url`);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
