// The keyring: master keys from configuration, per-purpose subkeys, AEAD bound to table/column/row, keyed code hashes.
import { TwofoldError } from "../errors.ts";
import { constantTimeEqual, hkdf, hmac, openAESGCM, randomBytes, sealAESGCM } from "./index.ts";

export interface MasterKey {
  /** Short identifier stored beside every value sealed or hashed with this key (enables rotation). */
  id: string;
  key: Uint8Array;
}

/** Which row and column a sealed value belongs to; bound into the AEAD so values cannot be moved (M2). */
export interface SealContext {
  table: string;
  column: string;
  row: string;
}

const SEAL_PREFIX = "v1";

/**
 * Master keys live outside the database (configuration or environment). The first key is primary:
 * new values are sealed with it, older keys stay readable until re-encrypted (`twofold keys rotate`).
 */
export class Keyring {
  readonly #keys: Map<string, { encryption: Uint8Array; codeHash: Uint8Array; lookup: Uint8Array }>;
  readonly #primary: string;

  constructor(keys: readonly MasterKey[]) {
    if (keys.length === 0) throw new TwofoldError("ERR_KEYRING", "the keyring has no keys");
    this.#keys = new Map();
    for (const k of keys) {
      if (k.key.length < 32)
        throw new TwofoldError("ERR_KEYRING", `key ${k.id} is shorter than 32 bytes`, { detail: k.id });
      if (!/^[A-Za-z0-9_-]{1,16}$/.test(k.id))
        throw new TwofoldError("ERR_KEYRING", `key id ${JSON.stringify(k.id)} must be 1-16 of [A-Za-z0-9_-]`);
      if (this.#keys.has(k.id)) throw new TwofoldError("ERR_KEYRING", `duplicate key id ${k.id}`);
      this.#keys.set(k.id, {
        encryption: hkdf(k.key, "twofold/aead/v1"),
        codeHash: hkdf(k.key, "twofold/code-hash/v1"),
        lookup: hkdf(k.key, "twofold/lookup/v1"),
      });
    }
    this.#primary = keys[0]!.id;
  }

  get primaryKeyId(): string {
    return this.#primary;
  }

  /** Seal `plaintext` for one row and column: `v1.<keyId>.<base64url(iv‖ct‖tag)>`. */
  seal(plaintext: Uint8Array, context: SealContext): string {
    const key = this.#keys.get(this.#primary)!;
    const sealed = sealAESGCM(key.encryption, plaintext, aadOf(context));
    return `${SEAL_PREFIX}.${this.#primary}.${Buffer.from(sealed).toString("base64url")}`;
  }

  open(value: string, context: SealContext): Uint8Array {
    const [prefix, keyId, body] = value.split(".");
    if (prefix !== SEAL_PREFIX || !keyId || !body)
      throw new TwofoldError("ERR_DECRYPT", "not a sealed value");
    const key = this.#keys.get(keyId);
    if (!key)
      throw new TwofoldError("ERR_KEYRING", "the key that sealed this value is not configured", {
        detail: `key id ${keyId}`,
      });
    return openAESGCM(key.encryption, Buffer.from(body, "base64url"), aadOf(context));
  }

  /** True when the value was sealed with a key other than the primary one (needs re-encryption). */
  needsRotation(value: string): boolean {
    return value.split(".")[1] !== this.#primary;
  }

  /**
   * Keyed hash of a one-time code (C2): HMAC-SHA256 under a key kept outside the database, over a
   * per-row random salt, the owner and the code. Returns `hmac-sha256.<keyId>.<salt>.<mac>`.
   */
  hashCode(code: string, owner: string): string {
    const salt = randomBytes(16);
    const mac = this.#codeMac(this.#primary, salt, owner, code);
    return `hmac-sha256.${this.#primary}.${Buffer.from(salt).toString("base64url")}.${Buffer.from(mac).toString("base64url")}`;
  }

  /** Constant-time check of `code` against a stored code hash. Fails closed when its key is missing. */
  verifyCodeHash(code: string, owner: string, stored: string): boolean {
    const [alg, keyId, saltB64, macB64] = stored.split(".");
    if (alg !== "hmac-sha256" || !keyId || !saltB64 || !macB64) return false;
    if (!this.#keys.has(keyId)) return false;
    const mac = this.#codeMac(keyId, Buffer.from(saltB64, "base64url"), owner, code);
    return constantTimeEqual(mac, Buffer.from(macB64, "base64url"));
  }

  /**
   * Deterministic keyed hash of a value that must be counted or matched without being stored (a phone number in the
   * SMS guard's records): HMAC-SHA256 under the primary key's lookup subkey, over the purpose and the value. Not a
   * secret's hash (use hashCode): the same input always gives the same output, until the primary key changes.
   */
  lookupHash(purpose: string, value: string): string {
    const key = this.#keys.get(this.#primary)!;
    const mac = hmac("SHA256", key.lookup, Buffer.concat([lengthPrefixed(purpose), lengthPrefixed(value)]));
    return Buffer.from(mac).toString("base64url");
  }

  #codeMac(keyId: string, salt: Uint8Array, owner: string, code: string): Uint8Array {
    const key = this.#keys.get(keyId)!;
    // Length-prefix the fields so no two (owner, code) pairs share an encoding.
    const message = Buffer.concat([Buffer.from(salt), lengthPrefixed(owner), lengthPrefixed(code)]);
    return hmac("SHA256", key.codeHash, message);
  }
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function aadOf(c: SealContext): string {
  return `twofold:${c.table}:${c.column}:${c.row}`;
}
