// What the WebAuthn use cases need without loading the verifier and its certificate libraries: the refusal reasons, the offered algorithms, the credential ID of an answer.

/**
 * Why a WebAuthn response was refused. Operators read these in the authentication log; users see one message
 * (P14), whatever the reason.
 */
export type WebAuthnRejection =
  /** Not the JSON / base64url / CBOR shapes asked for, over a size bound, truncated or with bytes left over. */
  | "malformed"
  /** clientDataJSON.type is not `webauthn.create` / `webauthn.get` as the ceremony needs (F2). */
  | "wrong_type"
  /** clientDataJSON.challenge is not this ceremony's (F1). */
  | "challenge_mismatch"
  /** clientDataJSON.origin is not exactly one of the configured origins (F2). */
  | "origin_mismatch"
  /** A framed ceremony (crossOrigin / topOrigin) the configuration does not allow (F2). */
  | "cross_origin"
  /** authenticatorData's rpIdHash is not SHA-256 of the configured RP ID (F2). */
  | "rp_id_mismatch"
  /** UP flag clear (F3). */
  | "user_not_present"
  /** UV flag clear where the ceremony required it (F3). */
  | "user_not_verified"
  /** BS set without BE (F3). */
  | "backup_flags_invalid"
  /** BE differs from what was stored at registration (F3). */
  | "backup_eligibility_changed"
  /** The signature (assertion or attestation statement) does not verify. */
  | "bad_signature"
  /** The credential's key algorithm is not one the ceremony offered (F5). */
  | "algorithm_not_allowed"
  /** A credential ID over 1023 bytes (F5). */
  | "credential_id_too_long"
  /** Attestation policy: format or AAGUID not allowed (F5). */
  | "attestation_refused";

export class WebAuthnRejected extends Error {
  override readonly name = "WebAuthnRejected";
  constructor(
    readonly reason: WebAuthnRejection,
    /** For operators' logs only: never shown to a user. */
    readonly detail?: string,
  ) {
    super(reason);
  }
}

/** COSE algorithms offered at registration: EdDSA, ES256, RS256 (what platform authenticators and keys use). */
export const OFFERED_ALGORITHMS = [-8, -7, -257] as const;

/** WebAuthn §5.1: credential IDs are at most 1023 bytes; base64url of that. */
export const CREDENTIAL_ID_CHARS = 1364;

/** The credential ID a response names, if it is shaped like one (for looking the credential up). */
export function credentialIdOf(response: unknown): string | undefined {
  if (typeof response !== "object" || response === null) return undefined;
  const id = (response as Record<string, unknown>)["id"];
  return typeof id === "string" &&
    id.length > 0 &&
    id.length <= CREDENTIAL_ID_CHARS &&
    /^[A-Za-z0-9_-]+$/.test(id)
    ? id
    : undefined;
}
