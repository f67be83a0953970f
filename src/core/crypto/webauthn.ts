// The one WebAuthn verification routine (F7): bounded parsing, then W3C WebAuthn §7.1/§7.2 checks, each with its own reason.

import { createPublicKey, type KeyObject, verify } from "node:crypto";
import {
  type RegistrationResponseJSON,
  type VerifiedRegistrationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import {
  convertCertBufferToPEM,
  decodeAttestationObject,
  decodeCredentialPublicKey,
  parseAuthenticatorData,
  validateCertificatePath,
  verifySignature,
} from "@simplewebauthn/server/helpers";
import { constantTimeEqual, sha256 } from "./index.ts";
import {
  CREDENTIAL_ID_CHARS,
  OFFERED_ALGORITHMS,
  WebAuthnRejected,
  type WebAuthnRejection,
} from "./webauthn-rejection.ts";

export { OFFERED_ALGORITHMS, WebAuthnRejected, type WebAuthnRejection };

/** Bounds on what a browser sends (F7). Real responses are far smaller; the bounds stop hostile input cheaply. */
const LIMITS = {
  credentialIdChars: CREDENTIAL_ID_CHARS,
  clientDataJSONChars: 8192,
  authenticatorDataChars: 8192,
  /** Attestation objects may carry certificate chains (packed, tpm). */
  attestationObjectChars: 65536,
  signatureChars: 1400,
  /** WebAuthn §5.4.3: a user handle is at most 64 bytes. */
  userHandleChars: 88,
  transports: 10,
  transportChars: 32,
};

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Strict UTF-8 (invalid bytes refused; a leading BOM dropped, as a browser's decoder does). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });
/** SHA-256 of each RP ID checked, computed once. */
const RP_ID_HASHES = new Map<string, Uint8Array>();
function rpIdHash(rpId: string): Uint8Array {
  let hash = RP_ID_HASHES.get(rpId);
  if (!hash) {
    hash = sha256(rpId);
    if (RP_ID_HASHES.size < 16) RP_ID_HASHES.set(rpId, hash);
  }
  return hash;
}

function bad(detail: string): never {
  throw new WebAuthnRejected("malformed", detail);
}

function base64url(value: unknown, name: string, maxChars: number, minChars = 1): string {
  if (typeof value !== "string") bad(`${name} is not a string`);
  if (value.length < minChars || value.length > maxChars) bad(`${name} has ${value.length} characters`);
  if (!BASE64URL.test(value)) bad(`${name} is not base64url`);
  return value;
}

function bytes(text: string): Uint8Array<ArrayBuffer> {
  const decoded = Buffer.from(text, "base64url");
  const out = new Uint8Array(new ArrayBuffer(decoded.length));
  out.set(decoded);
  return out;
}

function record(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad(`${name} is not an object`);
  return value as Record<string, unknown>;
}

/** The user handle an assertion carries (base64url), null when absent. */
function userHandleOf(inner: Record<string, unknown>): string | null {
  const h = inner["userHandle"];
  if (h === undefined || h === null || h === "") return null;
  return base64url(h, "userHandle", LIMITS.userHandleChars);
}

export interface ClientDataExpectation {
  type: "webauthn.create" | "webauthn.get";
  challenge: string;
  origins: readonly string[];
  topOrigins: readonly string[];
}

/**
 * §7.1 steps 5-9 / §7.2 steps 10-14: decode clientDataJSON (UTF-8, a leading BOM dropped as UTF-8 decode does),
 * then type, challenge (constant time), origin (exact match), and crossOrigin/topOrigin. Returns the raw bytes
 * (their hash is signed).
 */
export function checkClientData(encoded: string, expected: ClientDataExpectation): Uint8Array {
  const raw = bytes(encoded);
  let parsed: unknown;
  try {
    // UTF-8 decode without BOM handling off: a leading BOM is dropped, invalid UTF-8 refused.
    parsed = JSON.parse(UTF8.decode(raw));
  } catch {
    bad("clientDataJSON is not UTF-8 JSON");
  }
  const data = record(parsed, "clientData");
  const { type, challenge, origin, crossOrigin, topOrigin } = data;
  if (typeof type !== "string" || typeof challenge !== "string" || typeof origin !== "string")
    bad("clientData lacks type, challenge or origin");
  if (type !== expected.type) throw new WebAuthnRejected("wrong_type", type.slice(0, 40));
  if (!constantTimeEqual(challenge, expected.challenge)) throw new WebAuthnRejected("challenge_mismatch");
  if (!expected.origins.includes(origin)) throw new WebAuthnRejected("origin_mismatch", origin.slice(0, 300));
  if (crossOrigin !== undefined && typeof crossOrigin !== "boolean") bad("crossOrigin is not a boolean");
  if (topOrigin !== undefined && typeof topOrigin !== "string") bad("topOrigin is not a string");
  if (crossOrigin === true || topOrigin !== undefined) {
    if (typeof topOrigin !== "string" || !expected.topOrigins.includes(topOrigin))
      throw new WebAuthnRejected("cross_origin", String(topOrigin).slice(0, 300));
  }
  return raw;
}

function parseAuthData(raw: Uint8Array<ArrayBuffer>): ReturnType<typeof parseAuthenticatorData> {
  try {
    return parseAuthenticatorData(raw);
  } catch (error) {
    bad(`authenticatorData: ${(error as Error).message}`.slice(0, 200));
  }
}

export interface StoredCredentialKey {
  credentialId: string;
  /** COSE public key, base64url. */
  publicKey: string;
  backupEligible: boolean;
}

export interface VerifiedAssertion {
  signCount: number;
  userVerified: boolean;
  backupState: boolean;
  /** base64url, null when the authenticator sent none. */
  userHandle: string | null;
}

/**
 * Verify an assertion (W3C WebAuthn §7.2) for a credential already looked up by its ID. Every caller that accepts
 * an assertion — second factor, passwordless, step-up — comes here (F7). The signature counter and the user
 * handle are returned for the caller to compare with what it stored, after the signature is known to be good:
 * an unsigned counter must never flag a credential.
 */
export async function verifyAssertion(input: {
  response: unknown;
  credential: StoredCredentialKey;
  expected: Omit<ClientDataExpectation, "type">;
  rpId: string;
  requireUserVerification: boolean;
  /**
   * Check the signature on libuv's thread pool instead of this thread: for a caller that holds no transaction, so the
   * event loop serves other requests meanwhile (inside a transaction the synchronous check is shorter than the wait).
   */
  offThread?: boolean;
}): Promise<VerifiedAssertion> {
  const response = record(input.response, "response");
  const id = base64url(response["id"], "id", LIMITS.credentialIdChars);
  if (response["rawId"] !== undefined && response["rawId"] !== id) bad("rawId differs from id");
  if (response["type"] !== "public-key") bad("type is not public-key");
  if (!constantTimeEqual(id, input.credential.credentialId)) bad("response is for another credential");
  const inner = record(response["response"], "response.response");
  const clientDataJSON = base64url(inner["clientDataJSON"], "clientDataJSON", LIMITS.clientDataJSONChars);
  const authenticatorData = base64url(
    inner["authenticatorData"],
    "authenticatorData",
    LIMITS.authenticatorDataChars,
  );
  const signature = base64url(inner["signature"], "signature", LIMITS.signatureChars);
  const userHandle = userHandleOf(inner);

  const clientData = checkClientData(clientDataJSON, { ...input.expected, type: "webauthn.get" });
  const authData = bytes(authenticatorData);
  const parsed = parseAuthData(authData);
  if (!constantTimeEqual(parsed.rpIdHash, rpIdHash(input.rpId))) throw new WebAuthnRejected("rp_id_mismatch");
  if (!parsed.flags.up) throw new WebAuthnRejected("user_not_present");
  if (input.requireUserVerification && !parsed.flags.uv) throw new WebAuthnRejected("user_not_verified");
  if (parsed.flags.bs && !parsed.flags.be) throw new WebAuthnRejected("backup_flags_invalid");
  if (parsed.flags.be !== input.credential.backupEligible)
    throw new WebAuthnRejected("backup_eligibility_changed");

  const signed = new Uint8Array(authData.length + 32);
  signed.set(authData, 0);
  signed.set(sha256(clientData), authData.length);
  let good = false;
  try {
    good = await verifyCOSESignature(
      input.credential.publicKey,
      signed,
      bytes(signature),
      input.offThread === true,
    );
  } catch (error) {
    // A signature that is not DER, or a stored key that cannot be used: no proof either way.
    throw new WebAuthnRejected("bad_signature", (error as Error).message.slice(0, 200));
  }
  if (!good) throw new WebAuthnRejected("bad_signature");
  return {
    signCount: parsed.counter,
    userVerified: parsed.flags.uv,
    backupState: parsed.flags.bs,
    userHandle,
  };
}

const b64 = (v: unknown): string => {
  if (!(v instanceof Uint8Array)) throw new Error("COSE key parameter is not a byte string");
  return Buffer.from(v).toString("base64url");
};

/**
 * The COSE key (RFC 9053) of one of the algorithms we offer as a node:crypto key: synchronous and in-process, so a
 * verification holds its transaction for tens of microseconds rather than waiting on WebCrypto's worker threads.
 * Undefined for any other key (the library's WebCrypto path then verifies it).
 */
function importCOSEKey(cose: Uint8Array_): { key: KeyObject; hash: string | null; der: boolean } | undefined {
  const k = decodeCredentialPublicKey(cose) as unknown as Map<number, unknown>;
  const kty = k.get(1);
  const alg = k.get(3);
  if (kty === 2 && alg === -7 && k.get(-1) === 1)
    return {
      key: createPublicKey({
        format: "jwk",
        key: { kty: "EC", crv: "P-256", x: b64(k.get(-2)), y: b64(k.get(-3)) },
      }),
      hash: "sha256",
      der: true,
    };
  if (kty === 1 && alg === -8 && k.get(-1) === 6)
    return {
      key: createPublicKey({ format: "jwk", key: { kty: "OKP", crv: "Ed25519", x: b64(k.get(-2)) } }),
      hash: null,
      der: false,
    };
  if (kty === 3 && alg === -257)
    return {
      key: createPublicKey({ format: "jwk", key: { kty: "RSA", n: b64(k.get(-1)), e: b64(k.get(-2)) } }),
      hash: "sha256",
      der: false,
    };
  return undefined;
}

type Uint8Array_ = Uint8Array<ArrayBuffer>;

/**
 * Keys already imported, by their stored COSE text: public keys, so keeping them is harmless, and importing is a
 * good part of a verification's cost. Bounded: the oldest entry goes first.
 */
const IMPORTED = new Map<string, ReturnType<typeof importCOSEKey>>();
const IMPORTED_MAX = 10_000;

function importCachedCOSEKey(text: string): ReturnType<typeof importCOSEKey> {
  if (IMPORTED.has(text)) return IMPORTED.get(text);
  const imported = importCOSEKey(bytes(text));
  if (IMPORTED.size >= IMPORTED_MAX) IMPORTED.delete(IMPORTED.keys().next().value as string);
  IMPORTED.set(text, imported);
  return imported;
}

/** §7.2 step 20: the signature over authenticatorData ‖ SHA-256(clientDataJSON) with the credential's key. */
async function verifyCOSESignature(
  coseText: string,
  data: Uint8Array_,
  signature: Uint8Array_,
  offThread: boolean,
): Promise<boolean> {
  const imported = importCachedCOSEKey(coseText);
  if (!imported) return verifySignature({ signature, data, credentialPublicKey: bytes(coseText) });
  const key = imported.der ? { key: imported.key, dsaEncoding: "der" as const } : imported.key;
  if (!offThread) return verify(imported.hash, data, key, signature);
  return new Promise((resolve, reject) =>
    verify(imported.hash, data, key, signature, (error, good) => (error ? reject(error) : resolve(good))),
  );
}

export interface VerifiedAttestation {
  credentialId: string;
  publicKey: string;
  signCount: number;
  /** As the browser reported them (bounded), for allowCredentials later. */
  transports: string[];
  aaguid: string;
  format: string;
  backupEligible: boolean;
  backupState: boolean;
  deviceType: "singleDevice" | "multiDevice";
  userVerified: boolean;
  /** credProps.rk from the client extension results; null when the browser did not say. */
  discoverable: boolean | null;
}

/** What @simplewebauthn/server's messages mean, as our reasons (its checks run after ours, so few reach here). */
function reasonOf(error: Error): WebAuthnRejection {
  const m = error.message;
  if (error.name === "InvalidBackupFlags") return "backup_flags_invalid";
  if (/Unexpected RP ID hash/.test(m)) return "rp_id_mismatch";
  if (/User presence was required/.test(m)) return "user_not_present";
  if (/User verification was required/.test(m)) return "user_not_verified";
  if (/Unexpected public key alg/.test(m)) return "algorithm_not_allowed";
  if (/Unsupported Attestation Format|attestation statement/i.test(m)) return "attestation_refused";
  if (/signature/i.test(m)) return "bad_signature";
  return "malformed";
}

/**
 * Verify a registration (W3C WebAuthn §7.1): our own bounded checks of the shapes and of clientDataJSON, the RP ID
 * hash and the flags, then @simplewebauthn/server for the attestation statement (formats none, packed, fido-u2f,
 * tpm, android-key, android-safetynet, apple), then the attestation policy (F5).
 */
export async function verifyAttestation(input: {
  response: unknown;
  expected: Omit<ClientDataExpectation, "type">;
  rpId: string;
  requireUserVerification: boolean;
  /**
   * AAGUIDs allowed (lower case); empty: any. A non-empty list needs a full attestation (a certificate chain, not
   * `none` or self attestation) that ends at one of `rootCertificates`.
   */
  allowedAAGUIDs: readonly string[];
  rootCertificates: readonly string[];
}): Promise<VerifiedAttestation> {
  const response = record(input.response, "response");
  const id = base64url(response["id"], "id", 4096);
  if (bytes(id).length > 1023) throw new WebAuthnRejected("credential_id_too_long");
  if (response["rawId"] !== undefined && response["rawId"] !== id) bad("rawId differs from id");
  if (response["type"] !== "public-key") bad("type is not public-key");
  const inner = record(response["response"], "response.response");
  const clientDataJSON = base64url(inner["clientDataJSON"], "clientDataJSON", LIMITS.clientDataJSONChars);
  const attestationObject = base64url(
    inner["attestationObject"],
    "attestationObject",
    LIMITS.attestationObjectChars,
  );
  const transports = transportsOf(inner["transports"]);
  const discoverable = discoverableOf(response["clientExtensionResults"]);
  checkClientData(clientDataJSON, { ...input.expected, type: "webauthn.create" });

  let verified: VerifiedRegistrationResponse;
  try {
    verified = await verifyRegistrationResponse({
      response: {
        id,
        rawId: id,
        type: "public-key",
        response: { clientDataJSON, attestationObject, transports: [] },
        clientExtensionResults: {},
      } as RegistrationResponseJSON,
      // Already checked above, in constant time and against the whole list; the library checks them again.
      expectedChallenge: () => true,
      expectedOrigin: [...input.expected.origins],
      expectedRPID: input.rpId,
      requireUserPresence: true,
      requireUserVerification: input.requireUserVerification,
      supportedAlgorithmIDs: [...OFFERED_ALGORITHMS],
    });
  } catch (error) {
    throw new WebAuthnRejected(reasonOf(error as Error), (error as Error).message.slice(0, 200));
  }
  if (!verified.verified) throw new WebAuthnRejected("bad_signature", "attestation statement");
  const info = verified.registrationInfo;
  if (info.credential.id !== id) bad("the attested credential ID is not the response's id");
  const aaguid = info.aaguid.toLowerCase();
  if (input.allowedAAGUIDs.length > 0) await checkAttestationPolicy(info, aaguid, input);
  // A key that cannot be used (a point off the curve, a truncated modulus) would only fail at every login.
  try {
    importCOSEKey(new Uint8Array(info.credential.publicKey));
  } catch (error) {
    bad(`unusable public key: ${(error as Error).message}`.slice(0, 200));
  }
  return {
    credentialId: id,
    publicKey: Buffer.from(info.credential.publicKey).toString("base64url"),
    signCount: info.credential.counter,
    transports,
    aaguid,
    format: info.fmt,
    // The library derives the device type from BE (multiDevice iff BE) and has refused BS without BE.
    backupEligible: info.credentialDeviceType === "multiDevice",
    backupState: info.credentialBackedUp,
    deviceType: info.credentialDeviceType,
    userVerified: info.userVerified,
    discoverable,
  };
}

/**
 * Enterprise mode (F5): the model must be allowed, and proven. The format's verifier (run above) has checked that
 * the chain's first certificate signed the attestation and, for `packed`, that it names this AAGUID; what is left
 * is that the chain ends at a configured root. (@simplewebauthn/server accepts any chain when it has no roots.)
 * Revocation is not checked: that would fetch CRLs during a registration.
 */
async function checkAttestationPolicy(
  info: NonNullable<VerifiedRegistrationResponse["registrationInfo"]>,
  aaguid: string,
  input: { allowedAAGUIDs: readonly string[]; rootCertificates: readonly string[] },
): Promise<void> {
  if (!input.allowedAAGUIDs.includes(aaguid))
    throw new WebAuthnRejected("attestation_refused", `model ${aaguid} not allowed`);
  const x5c = decodeAttestationObject(info.attestationObject).get("attStmt").get("x5c");
  if (!Array.isArray(x5c) || x5c.length === 0 || input.rootCertificates.length === 0)
    throw new WebAuthnRejected("attestation_refused", `${info.fmt} attestation without a certificate chain`);
  try {
    await validateCertificatePath(
      x5c.map((c) => convertCertBufferToPEM(c)),
      [...input.rootCertificates],
    );
  } catch (error) {
    throw new WebAuthnRejected("attestation_refused", (error as Error).message.slice(0, 200));
  }
}

function transportsOf(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > LIMITS.transports) bad("transports is not a short list");
  return value.map((t) => {
    if (typeof t !== "string" || !/^[a-z-]{1,32}$/.test(t)) bad("a transport is not a short name");
    return t;
  });
}

function discoverableOf(results: unknown): boolean | null {
  if (typeof results !== "object" || results === null) return null;
  const credProps = (results as Record<string, unknown>)["credProps"];
  if (typeof credProps !== "object" || credProps === null) return null;
  const rk = (credProps as Record<string, unknown>)["rk"];
  return typeof rk === "boolean" ? rk : null;
}
