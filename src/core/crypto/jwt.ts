// Compact JWS with HS512 only (the Duo Universal Prompt's one algorithm): strict header checks, constant-time MAC compare.
import { equalBytesSameLength, type HmacKey, hmacDigest } from "./index.ts";

export type JSONObject = Record<string, unknown>;

export type JWTCheck =
  | { ok: true; header: JSONObject; claims: JSONObject }
  | { ok: false; reason: "malformed" | "algorithm" | "signature" };

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function encode(value: JSONObject): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/** The header every token we sign carries. */
const HS512_HEADER = encode({ alg: "HS512", typ: "JWT" });
/** An HMAC-SHA-512 in unpadded base64url: always this long. */
const HS512_SIGNATURE_LENGTH = 86;

/** HMAC-SHA-512 of the signing input, in base64url. */
function signature(key: HmacKey, input: string): string {
  const mac = hmacDigest("SHA512", key, input);
  return Buffer.from(mac.buffer, mac.byteOffset, mac.byteLength).toString("base64url");
}

function decodeObject(part: string): JSONObject | undefined {
  if (!BASE64URL.test(part) || part.length % 4 === 1) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as JSONObject)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Sign `claims` with HS512 under `key` (the client secret's UTF-8 bytes, or that key prepared: prepareHmacKey). */
export function signHS512(claims: JSONObject, key: HmacKey): string {
  const input = `${HS512_HEADER}.${encode(claims)}`;
  return `${input}.${signature(key, input)}`;
}

/**
 * Verify a compact JWS: exactly three base64url parts, a JSON-object header whose `alg` is exactly `HS512` (so
 * `none`, `HS256` and every asymmetric algorithm are refused before any key is used), no `crit` extensions, `typ`
 * absent or `JWT`, and an HMAC-SHA-512 equal in constant time. The claims are returned unchecked: the caller
 * checks each one it relies on.
 *
 * The signature is compared as text, in its one canonical encoding: a MAC's length is public (86 characters), so
 * two strings of that length are compared with timingSafeEqual, and a token whose last character carries other
 * padding bits (the same bytes, spelt otherwise) is refused as before.
 */
export function verifyHS512(token: unknown, key: HmacKey): JWTCheck {
  if (typeof token !== "string" || token.length > 16_384) return { ok: false, reason: "malformed" };
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed" };
  const [h, c, s] = parts as [string, string, string];
  const header = decodeObject(h);
  const claims = decodeObject(c);
  if (!header || !claims || !BASE64URL.test(s)) return { ok: false, reason: "malformed" };
  if (header["alg"] !== "HS512") return { ok: false, reason: "algorithm" };
  if ("crit" in header || (header["typ"] !== undefined && header["typ"] !== "JWT"))
    return { ok: false, reason: "malformed" };
  if (s.length !== HS512_SIGNATURE_LENGTH) return { ok: false, reason: "signature" };
  const expected = signature(key, `${h}.${c}`);
  if (!equalBytesSameLength(Buffer.from(expected, "latin1"), Buffer.from(s, "latin1")))
    return { ok: false, reason: "signature" };
  return { ok: true, header, claims };
}
