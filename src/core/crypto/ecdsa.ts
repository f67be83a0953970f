// ECDSA P-256 with SHA-256 (ES256) over raw public keys, as WebCrypto produces them: device keys for signed push answers.
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";

/** The 65-byte uncompressed point (0x04 ‖ x ‖ y) as a KeyObject, or undefined when it is not a P-256 point. */
export function importP256PublicKey(raw: Uint8Array): KeyObject | undefined {
  if (raw.length !== 65 || raw[0] !== 0x04) return undefined;
  try {
    const jwk = {
      kty: "EC",
      crv: "P-256",
      x: Buffer.from(raw.subarray(1, 33)).toString("base64url"),
      y: Buffer.from(raw.subarray(33)).toString("base64url"),
    };
    // Importing checks that the point lies on the curve.
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    return undefined;
  }
}

/** Verify a raw r‖s (IEEE P1363, 64 bytes) ES256 signature, as WebCrypto's ECDSA sign returns it. */
export function verifyP256Signature(
  publicKeyRaw: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = importP256PublicKey(publicKeyRaw);
  if (!key || signature.length !== 64) return false;
  try {
    return verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}

/** A device key pair (for tests and the command-line authenticator): raw public point and a signing function. */
export function generateP256Signer(): { publicKeyRaw: Uint8Array; sign(data: Uint8Array): Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const publicKeyRaw = new Uint8Array(
    Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]),
  );
  return {
    publicKeyRaw,
    sign: (data) => new Uint8Array(sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" })),
  };
}
