// A software WebAuthn authenticator for tests: ES256 keys from node:crypto, authenticatorData and `none` attestation built by hand.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { type CBORValue, encodeCBOR } from "./cbor.ts";

const b64u = (b: Uint8Array | Buffer): string => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | string): Buffer => createHash("sha256").update(b).digest();

export const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 } as const;

/** What a test may change in what the authenticator or the browser would send. */
export interface Tamper {
  type?: string;
  challenge?: string;
  origin?: string;
  crossOrigin?: boolean;
  topOrigin?: string;
  /** RP ID whose hash goes into authenticatorData. */
  rpId?: string;
  /** Replace the flags byte entirely. */
  flags?: number;
  counter?: number;
  userHandle?: string | null;
  /** Sign with this key instead of the credential's. */
  signWith?: KeyObject;
  /** Change the signed bytes' result: e.g. flip a bit in the signature. */
  mangleSignature?: (sig: Buffer) => Buffer<ArrayBufferLike>;
  /** Replace clientDataJSON bytes (e.g. a BOM or garbage). */
  clientDataJSON?: Uint8Array;
  /** Replace authenticatorData bytes after building. */
  authenticatorData?: (authData: Uint8Array) => Uint8Array;
  /** Registration: the credential ID bytes, the COSE alg announced, the transports reported. */
  credentialId?: Uint8Array;
  alg?: number;
  transports?: string[];
  /** Registration: replace the attestation object. */
  attestationObject?: Uint8Array;
  /** Registration: make the attestation statement (default: format `none`) over authData ‖ hash(clientDataJSON). */
  attest?: (signed: Buffer, credentialKey: KeyObject) => { fmt: string; attStmt: Map<string, CBORValue> };
  /** The response's `id` (and `rawId`). */
  id?: string;
}

export interface SoftCredential {
  id: Uint8Array;
  privateKey: KeyObject;
  cose: Uint8Array;
  userHandle: string;
  counter: number;
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  constructor(
    readonly options: {
      origin: string;
      /** Flags the authenticator sets on every response (UP, and UV when it verifies the user). */
      flags?: number;
      /** An authenticator that keeps no counter answers 0 every time. */
      counter?: "increment" | "zero";
      aaguid?: Uint8Array;
      transports?: string[];
      /** The credential's algorithm: ES256 (default), EdDSA (Ed25519) or RS256. */
      algorithm?: "ES256" | "EdDSA" | "RS256";
    },
  ) {}

  private flags(): number {
    return this.options.flags ?? FLAG.UP | FLAG.UV;
  }

  private clientData(type: string, challenge: string, t: Tamper): Uint8Array {
    if (t.clientDataJSON) return t.clientDataJSON;
    const data: Record<string, unknown> = {
      type: t.type ?? type,
      challenge: t.challenge ?? challenge,
      origin: t.origin ?? this.options.origin,
      crossOrigin: t.crossOrigin ?? false,
    };
    if (t.topOrigin !== undefined) data["topOrigin"] = t.topOrigin;
    return new TextEncoder().encode(JSON.stringify(data));
  }

  /** navigator.credentials.create(), as @simplewebauthn/browser's startRegistration returns it. */
  register(options: Record<string, unknown>, t: Tamper = {}): Record<string, unknown> {
    const rp = options["rp"] as { id: string };
    const user = options["user"] as { id: string };
    const algorithm = this.options.algorithm ?? "ES256";
    const { privateKey, publicKey } =
      algorithm === "EdDSA"
        ? generateKeyPairSync("ed25519")
        : algorithm === "RS256"
          ? generateKeyPairSync("rsa", { modulusLength: 2048 })
          : generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const raw = (v: string | undefined) => Buffer.from(v!, "base64url");
    // RFC 9053 COSE_Key: kty, alg, then the key's parameters.
    const cose = encodeCBOR(
      new Map<number, number | Uint8Array>(
        algorithm === "EdDSA"
          ? [
              [1, 1],
              [3, t.alg ?? -8],
              [-1, 6],
              [-2, raw(jwk.x)],
            ]
          : algorithm === "RS256"
            ? [
                [1, 3],
                [3, t.alg ?? -257],
                [-1, raw(jwk.n)],
                [-2, raw(jwk.e)],
              ]
            : [
                [1, 2],
                [3, t.alg ?? -7],
                [-1, 1],
                [-2, raw(jwk.x)],
                [-3, raw(jwk.y)],
              ],
      ),
    );
    const credentialId = t.credentialId ?? randomBytes(32);
    const counter = this.options.counter === "zero" ? 0 : 0;
    const authData = Buffer.concat([
      sha256(t.rpId ?? rp.id),
      Buffer.from([t.flags ?? this.flags() | FLAG.AT]),
      u32(counter),
      Buffer.from(this.options.aaguid ?? new Uint8Array(16)),
      Buffer.from([credentialId.length >> 8, credentialId.length & 0xff]),
      Buffer.from(credentialId),
      Buffer.from(cose),
    ]);
    const finalAuthData = t.authenticatorData ? t.authenticatorData(authData) : authData;
    const clientDataJSON = this.clientData("webauthn.create", options["challenge"] as string, t);
    const statement = t.attest
      ? t.attest(Buffer.concat([finalAuthData, sha256(clientDataJSON)]), privateKey)
      : { fmt: "none", attStmt: new Map<string, CBORValue>() };
    const attestationObject =
      t.attestationObject ??
      encodeCBOR(
        new Map<string, CBORValue>([
          ["fmt", statement.fmt],
          ["attStmt", statement.attStmt],
          ["authData", finalAuthData],
        ]),
      );
    this.credentials.push({ id: credentialId, privateKey, cose, userHandle: user.id, counter });
    const id = t.id ?? b64u(credentialId);
    return {
      id,
      rawId: id,
      type: "public-key",
      response: {
        clientDataJSON: b64u(clientDataJSON),
        attestationObject: b64u(attestationObject),
        transports: t.transports ?? this.options.transports ?? ["usb"],
      },
      clientExtensionResults: { credProps: { rk: true } },
      authenticatorAttachment: "cross-platform",
    };
  }

  /** navigator.credentials.get() with the newest (or the given) credential. */
  assert(
    options: Record<string, unknown>,
    t: Tamper = {},
    credential: SoftCredential = this.credentials.at(-1)!,
  ): Record<string, unknown> {
    if (this.options.counter !== "zero") credential.counter += 1;
    const counter = t.counter ?? (this.options.counter === "zero" ? 0 : credential.counter);
    const rpId = t.rpId ?? (options["rpId"] as string);
    const authData0 = Buffer.concat([sha256(rpId), Buffer.from([t.flags ?? this.flags()]), u32(counter)]);
    const authData = t.authenticatorData ? t.authenticatorData(authData0) : authData0;
    const clientDataJSON = this.clientData("webauthn.get", options["challenge"] as string, t);
    let signature: Buffer = sign(
      this.options.algorithm === "EdDSA" ? null : "sha256",
      Buffer.concat([authData, sha256(clientDataJSON)]),
      t.signWith ?? credential.privateKey,
    );
    if (t.mangleSignature) signature = t.mangleSignature(signature);
    const id = t.id ?? b64u(credential.id);
    const userHandle = t.userHandle === undefined ? credential.userHandle : t.userHandle;
    return {
      id,
      rawId: id,
      type: "public-key",
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: "cross-platform",
    };
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
