// WebCrypto for the authenticator: the device key (ES256), request and answer signatures, and TOTP (RFC 6238)
// from a non-extractable HMAC key. Wire formats as docs/authenticator-protocol.md says.
const encoder = new TextEncoder();
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HMAC_HASH: Readonly<Record<string, string>> = { SHA1: "SHA-1", SHA256: "SHA-256", SHA512: "SHA-512" };

export function encodeBase64url(bytes: ArrayBuffer | Uint8Array): string {
  let binary = "";
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeBase64url(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** RFC 4648 §6, padding and case ignored; throws on any other character. */
export function decodeBase32(text: string): Uint8Array<ArrayBuffer> {
  const clean = text.replace(/=+$/, "").toUpperCase();
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new Error("not base32");
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out[index++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

/**
 * A new P-256 key pair. The private key is not extractable: it can sign, and be stored in IndexedDB, but its
 * bytes never reach JavaScript. Returns it with the public key as the base64url uncompressed point.
 */
export async function generateDeviceKey(): Promise<{ privateKey: CryptoKey; publicKey: string }> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  return { privateKey: pair.privateKey, publicKey: encodeBase64url(raw) };
}

/** ES256 over the UTF-8 text: WebCrypto returns the raw r‖s form (64 bytes) the protocol asks for. */
export async function signText(privateKey: CryptoKey, text: string): Promise<string> {
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    privateKey,
    encoder.encode(text),
  );
  return encodeBase64url(signature);
}

export async function sha256Base64url(text: string): Promise<string> {
  return encodeBase64url(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * Import the TOTP seed as a non-extractable HMAC key and wipe the decoded bytes: after this the seed exists
 * only inside WebCrypto (the base32 text is dropped by the caller).
 */
export async function importTOTPKey(base32Secret: string, algorithm: string): Promise<CryptoKey> {
  const hash = HMAC_HASH[algorithm];
  if (!hash) throw new Error(`unsupported TOTP algorithm ${algorithm}`);
  const seed = decodeBase32(base32Secret);
  try {
    return await crypto.subtle.importKey("raw", seed, { name: "HMAC", hash }, false, ["sign"]);
  } finally {
    seed.fill(0);
  }
}

/** RFC 6238 §4 (T = floor(unix time / period)) over RFC 4226 §5.3 dynamic truncation. */
export async function generateTOTP(
  key: CryptoKey,
  { digits, period }: { digits: number; period: number },
  nowMs: number,
): Promise<string> {
  const counter = Math.floor(nowMs / 1000 / period);
  const message = new DataView(new ArrayBuffer(8));
  message.setUint32(0, Math.floor(counter / 2 ** 32));
  message.setUint32(4, counter >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, message.buffer));
  const byte = (i: number) => mac[i] ?? 0;
  const offset = byte(mac.length - 1) & 0x0f;
  const binary =
    ((byte(offset) & 0x7f) << 24) | (byte(offset + 1) << 16) | (byte(offset + 2) << 8) | byte(offset + 3);
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** Seconds until the passcode for `period` changes. */
export function secondsLeft(period: number, nowMs: number): number {
  return period - (Math.floor(nowMs / 1000) % period);
}
