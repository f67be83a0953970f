// Twofold's cryptography (with ecdsa.ts beside it, the only code that imports node:crypto): randomness, constant-time comparison, keyed hashing, AEAD.
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes as nodeRandomBytes,
  sign as nodeSign,
  pbkdf2Sync,
  randomFillSync,
  randomInt,
  scrypt as scryptCallback,
  timingSafeEqual,
} from "node:crypto";
import { TwofoldError } from "../errors.ts";

export type HashAlgorithm = "SHA1" | "SHA256" | "SHA512";

const NODE_HASH: Record<HashAlgorithm, string> = { SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" };

/** Cryptographically secure random bytes (M1). */
export function randomBytes(length: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(length));
}

/**
 * A string of `length` characters drawn uniformly from `alphabet`.
 * node's randomInt samples by rejection, so there is no modulo bias (C1, M1).
 */
export function randomString(alphabet: string, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** `length` uniformly random decimal digits. */
export function randomDigits(length: number): string {
  return randomString("0123456789", length);
}

/** Random integer in [0, max). */
export function randomBelow(max: number): number {
  return randomInt(max);
}

const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** Duo-shaped object id: a two-letter type prefix and 18 random uppercase alphanumerics (20 in all). */
export function randomId(prefix: string): string {
  if (prefix.length !== 2) throw new Error("id prefix must be two characters");
  return prefix + randomString(ID_ALPHABET, 18);
}

/**
 * A Duo-shaped id (two-letter prefix, 18 uppercase alphanumerics) whose first 9 characters are `now` (the clock's
 * milliseconds, base 36) and the other 9 random (46 bits): for rows written by the thousand, such as auth log entries
 * and prompt logins, whose primary-key index then grows at its end instead of on a random page each (one page
 * written per commit for them all). Sorted by time only roughly: ids are not timestamps, and nothing reads them so.
 */
export function timeOrderedId(prefix: string, now: number): string {
  if (prefix.length !== 2) throw new Error("id prefix must be two characters");
  const time = Math.max(0, Math.floor(now)).toString(36).toUpperCase().padStart(9, "0").slice(-9);
  return prefix + time + randomString(ID_ALPHABET, 9);
}

/**
 * Random bytes for {@link randomHex}, drawn from the CSPRNG a few kilobytes at a time (as node does for
 * randomUUID): an id per request no longer costs a call into the CSPRNG each. Each byte is handed out once; the
 * ids are text before the pool is refilled.
 */
const HEX_POOL = Buffer.alloc(4096);
let hexPoolOffset = HEX_POOL.length;

/** Hex-encoded random bytes, for opaque ids such as transaction ids. */
export function randomHex(bytes: number): string {
  if (bytes > 256) return nodeRandomBytes(bytes).toString("hex");
  if (hexPoolOffset + bytes > HEX_POOL.length) {
    randomFillSync(HEX_POOL);
    hexPoolOffset = 0;
  }
  const start = hexPoolOffset;
  hexPoolOffset += bytes;
  return HEX_POOL.toString("hex", start, hexPoolOffset);
}

/**
 * Constant-time equality that is safe for inputs of unequal length: both sides are MACed with a
 * fresh random key and the fixed-size MACs are compared with timingSafeEqual (M3).
 */
/** Equal-length byte strings compared in time independent of their contents (node's timingSafeEqual). */
export function equalBytesSameLength(a: Uint8Array, b: Uint8Array): boolean {
  return timingSafeEqual(a, b);
}

/**
 * Equal in time independent of the contents (M3): both as bytes (text as UTF-8), compared by node's timingSafeEqual.
 * Values of unequal length are unequal; the first is then compared with itself, so that the time taken is the same
 * whether the lengths match or not (it depends on the first value's length alone).
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === "string" ? Buffer.from(a, "utf8") : a;
  const y = typeof b === "string" ? Buffer.from(b, "utf8") : b;
  if (x.length === y.length) return timingSafeEqual(x, y);
  timingSafeEqual(x, x);
  return false;
}

export function hmac(algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHmac(NODE_HASH[algorithm], key).update(data).digest());
}

/** An HMAC key prepared once for many messages (node's KeyObject); a string key is taken as UTF-8. */
export type HmacKey = KeyObject | Uint8Array | string;

/** A key for {@link hmacDigest}, prepared once: node skips importing the key bytes on every HMAC. */
export function prepareHmacKey(key: Uint8Array | string): HmacKey {
  const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  // createSecretKey refuses an empty key; createHmac takes one, so such a key is used as it is.
  return bytes.length === 0 ? key : createSecretKey(bytes);
}

/** HMAC as raw bytes; a string message is taken as UTF-8. */
export function hmacDigest(algorithm: HashAlgorithm, key: HmacKey, data: string | Uint8Array): Uint8Array {
  const mac = createHmac(NODE_HASH[algorithm], key);
  return typeof data === "string" ? mac.update(data, "utf8").digest() : mac.update(data).digest();
}

/** HMAC as lowercase hex; a string message is taken as UTF-8. */
export function hmacHex(
  algorithm: HashAlgorithm,
  key: Uint8Array | string,
  data: string | Uint8Array,
): string {
  const mac = createHmac(NODE_HASH[algorithm], key);
  return (typeof data === "string" ? mac.update(data, "utf8") : mac.update(data)).digest("hex");
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export function sha512Hex(data: Uint8Array | string): string {
  return createHash("sha512").update(data).digest("hex");
}

/** HKDF-SHA256 (RFC 5869). */
export function hkdf(key: Uint8Array, info: string, length = 32): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", key, new Uint8Array(0), info, length));
}

export function pbkdf2(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  length: number,
  algorithm: HashAlgorithm = "SHA1",
): Uint8Array {
  return new Uint8Array(pbkdf2Sync(password, salt, iterations, length, NODE_HASH[algorithm]));
}

/** AES-CBC decryption with the IV prepended to the ciphertext (as XML Encryption carries it). */
export function decryptAESCBCWithIV(key: Uint8Array, ivAndCiphertext: Uint8Array): Uint8Array {
  const bits = key.length * 8;
  if (bits !== 128 && bits !== 192 && bits !== 256)
    throw new TwofoldError("ERR_IMPORT_DECRYPT", "bad AES key length");
  if (ivAndCiphertext.length < 32 || ivAndCiphertext.length % 16 !== 0)
    throw new TwofoldError("ERR_IMPORT_DECRYPT", "ciphertext length is not a whole number of blocks");
  const iv = ivAndCiphertext.subarray(0, 16);
  const decipher = createDecipheriv(`aes-${bits}-cbc`, key, iv);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(ivAndCiphertext.subarray(16)), decipher.final()]));
  } catch (cause) {
    throw new TwofoldError("ERR_IMPORT_DECRYPT", "decryption failed (wrong key?)", { cause });
  }
}

/** AES-CBC encryption with a random IV prepended (used by tests and exports). */
export function encryptAESCBCWithIV(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const iv = randomBytes(16);
  const cipher = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  return new Uint8Array(Buffer.concat([iv, cipher.update(plaintext), cipher.final()]));
}

const GCM_IV = 12;
const GCM_TAG = 16;

/** AES-256-GCM seal: iv ‖ ciphertext ‖ tag, with `aad` bound in (M2). */
export function sealAESGCM(key: Uint8Array, plaintext: Uint8Array, aad: string): Uint8Array {
  const iv = randomBytes(GCM_IV);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()]));
}

export function openAESGCM(key: Uint8Array, sealed: Uint8Array, aad: string): Uint8Array {
  if (sealed.length < GCM_IV + GCM_TAG) throw new TwofoldError("ERR_DECRYPT", "sealed value too short");
  const iv = sealed.subarray(0, GCM_IV);
  const tag = sealed.subarray(sealed.length - GCM_TAG);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(
      Buffer.concat([decipher.update(sealed.subarray(GCM_IV, sealed.length - GCM_TAG)), decipher.final()]),
    );
  } catch (cause) {
    throw new TwofoldError("ERR_DECRYPT", "sealed value failed authentication", {
      cause,
      detail: `aad=${aad}`,
    });
  }
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

/** Password hash for local accounts: scrypt with a 16-byte salt, self-describing. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const derived = await scryptAsync(password, salt);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${b64(salt)}$${b64(derived)}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, n, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashB64, "base64");
  const derived = await scryptAsync(password, Buffer.from(saltB64, "base64"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return expected.length === derived.length && timingSafeEqual(expected, derived);
}

/** A fixed, never-matching verification so a missing account costs as much as a wrong password. */
export async function burnPasswordCheck(password: string): Promise<void> {
  await scryptAsync(password, new Uint8Array(16));
}

function scryptAsync(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number } = SCRYPT,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, SCRYPT.keylen, { ...params, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** RFC 3394 §2.2.3.1 default initial value: unwrapping checks it, which is the key wrap's integrity check. */
const AES_KW_IV = new Uint8Array([0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6]);

/** AES key wrap (RFC 3394), as XML Encryption's kw-aes128/192/256 carry keys. Used by tests and exports. */
export function wrapAESKW(kek: Uint8Array, keyData: Uint8Array): Uint8Array {
  const cipher = createCipheriv(`id-aes${kek.length * 8}-wrap`, kek, AES_KW_IV);
  return new Uint8Array(Buffer.concat([cipher.update(keyData), cipher.final()]));
}

/** AES key unwrap (RFC 3394 §2.2.2); a wrong key or altered data fails the integrity check. */
export function unwrapAESKW(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  const bits = kek.length * 8;
  if (bits !== 128 && bits !== 192 && bits !== 256)
    throw new TwofoldError("ERR_IMPORT_DECRYPT", "bad AES key length");
  if (wrapped.length < 24 || wrapped.length % 8 !== 0)
    throw new TwofoldError("ERR_IMPORT_DECRYPT", "wrapped key length is not a whole number of 64-bit blocks");
  const decipher = createDecipheriv(`id-aes${bits}-wrap`, kek, AES_KW_IV);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(wrapped), decipher.final()]));
  } catch (cause) {
    throw new TwofoldError("ERR_IMPORT_DECRYPT", "key unwrap failed its integrity check (wrong key?)", {
      cause,
    });
  }
}

// ---- P-256, HKDF with a salt, AES-128-GCM and ES256: the primitives Web Push (RFC 8291, RFC 8292) is built on.
// Keys travel as bytes: a private key is the 32-byte scalar, a public key the 65-byte uncompressed point
// (X9.62, 0x04 ‖ x ‖ y), which is how subscriptions (p256dh), the aes128gcm keyid and VAPID's `k` carry them.

const P256_CURVE = "prime256v1";

export interface P256KeyPair {
  /** The private scalar, 32 bytes. */
  privateKey: Uint8Array;
  /** The public key as an uncompressed point, 65 bytes starting with 0x04. */
  publicKeyRaw: Uint8Array;
}

/** A fresh P-256 key pair (for ECDH or ECDSA; RFC 8292 §3.2 wants different pairs for the two). */
export function generateP256KeyPair(): P256KeyPair {
  const ecdh = createECDH(P256_CURVE);
  ecdh.generateKeys();
  // getPrivateKey drops leading zero octets; the scalar is always handled as 32 bytes.
  return { privateKey: leftPad(ecdh.getPrivateKey(), 32), publicKeyRaw: new Uint8Array(ecdh.getPublicKey()) };
}

/** The uncompressed public point of a P-256 private scalar. */
export function deriveP256PublicKey(privateKey: Uint8Array): Uint8Array {
  const ecdh = createECDH(P256_CURVE);
  try {
    ecdh.setPrivateKey(privateKey);
  } catch (cause) {
    throw new TwofoldError("ERR_VALIDATION", "not a P-256 private key", { cause });
  }
  return new Uint8Array(ecdh.getPublicKey());
}

/**
 * ECDH on P-256: the 32-byte x coordinate of privateKey × peer. OpenSSL decodes the peer point and refuses one
 * that is not on the curve, which RFC 8291 §7 requires (an off-curve point can leak the private key).
 */
export function computeP256SharedSecret(privateKey: Uint8Array, peerPublicRaw: Uint8Array): Uint8Array {
  if (peerPublicRaw.length !== 65 || peerPublicRaw[0] !== 0x04)
    throw new TwofoldError("ERR_VALIDATION", "peer key is not an uncompressed P-256 point");
  const ecdh = createECDH(P256_CURVE);
  try {
    ecdh.setPrivateKey(privateKey);
  } catch (cause) {
    throw new TwofoldError("ERR_VALIDATION", "not a P-256 private key", { cause });
  }
  try {
    return new Uint8Array(ecdh.computeSecret(peerPublicRaw));
  } catch (cause) {
    throw new TwofoldError("ERR_VALIDATION", "peer key is not a point on P-256", { cause });
  }
}

/** HKDF-SHA256 (RFC 5869) with an explicit salt and binary info, as RFC 8188 §2.2 and RFC 8291 §3.3 use it. */
export function deriveHKDF(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
}

/** AEAD_AES_128_GCM (RFC 5116) with a caller-chosen 12-byte nonce: ciphertext ‖ 16-byte tag, no AAD. */
export function encryptAES128GCM(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (key.length !== 16 || nonce.length !== GCM_IV)
    throw new TwofoldError("ERR_VALIDATION", "AES-128-GCM needs a 16-byte key and a 12-byte nonce");
  const cipher = createCipheriv("aes-128-gcm", key, nonce);
  return new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
}

/** Opens what encryptAES128GCM sealed; a wrong key or any altered byte fails with ERR_DECRYPT. */
export function decryptAES128GCM(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (key.length !== 16 || nonce.length !== GCM_IV)
    throw new TwofoldError("ERR_VALIDATION", "AES-128-GCM needs a 16-byte key and a 12-byte nonce");
  if (sealed.length < GCM_TAG) throw new TwofoldError("ERR_DECRYPT", "ciphertext shorter than its tag");
  const decipher = createDecipheriv("aes-128-gcm", key, nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG));
  try {
    return new Uint8Array(
      Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - GCM_TAG)), decipher.final()]),
    );
  } catch (cause) {
    throw new TwofoldError("ERR_DECRYPT", "ciphertext failed authentication", { cause });
  }
}

/**
 * ECDSA P-256 with SHA-256 (JWS "ES256", RFC 7518 §3.4) from a raw private scalar. The signature is r ‖ s,
 * 32 bytes each, not DER, as ecdsa.ts's verifyP256Signature checks it. ECDSA is randomised: signing the same
 * data twice gives different signatures.
 */
export function signES256(privateKey: Uint8Array, data: Uint8Array | string): Uint8Array {
  const publicKeyRaw = deriveP256PublicKey(privateKey);
  const key = createPrivateKey({
    key: { ...p256JWK(publicKeyRaw), d: Buffer.from(privateKey).toString("base64url") },
    format: "jwk",
  });
  return new Uint8Array(nodeSign("sha256", toBytes(data), { key, dsaEncoding: "ieee-p1363" }));
}

function p256JWK(publicKeyRaw: Uint8Array): { kty: "EC"; crv: "P-256"; x: string; y: string } {
  const raw = Buffer.from(publicKeyRaw);
  return {
    kty: "EC",
    crv: "P-256",
    x: raw.subarray(1, 33).toString("base64url"),
    y: raw.subarray(33, 65).toString("base64url"),
  };
}

function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}
