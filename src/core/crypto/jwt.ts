// Compact JWS with HS512 only (the Duo Universal Prompt's one algorithm): strict header checks, constant-time MAC compare.
import { constantTimeEqual, hmac } from "./index.ts";

export type JSONObject = Record<string, unknown>;

export type JWTCheck =
  | { ok: true; header: JSONObject; claims: JSONObject }
  | { ok: false; reason: "malformed" | "algorithm" | "signature" };

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function encode(value: JSONObject): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
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

/** Sign `claims` with HS512 under `key` (the client secret's UTF-8 bytes). */
export function signHS512(claims: JSONObject, key: Uint8Array): string {
  const input = `${encode({ alg: "HS512", typ: "JWT" })}.${encode(claims)}`;
  return `${input}.${Buffer.from(hmac("SHA512", key, input)).toString("base64url")}`;
}

/**
 * Verify a compact JWS: exactly three base64url parts, a JSON-object header whose `alg` is exactly `HS512` (so
 * `none`, `HS256` and every asymmetric algorithm are refused before any key is used), no `crit` extensions, `typ`
 * absent or `JWT`, and an HMAC-SHA-512 equal in constant time. The claims are returned unchecked: the caller
 * checks each one it relies on.
 */
export function verifyHS512(token: unknown, key: Uint8Array): JWTCheck {
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
  const expected = Buffer.from(hmac("SHA512", key, `${h}.${c}`)).toString("base64url");
  if (!constantTimeEqual(expected, s)) return { ok: false, reason: "signature" };
  return { ok: true, header, claims };
}
