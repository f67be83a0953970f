// The command-line authenticator's state file: its accounts (server, device id, private key as a JWK, TOTP seed), mode 0600.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { decodeBase32 } from "../core/base32.ts";
import { deriveP256PublicKey, randomHex } from "../core/crypto/index.ts";
import { TwofoldError } from "../core/errors.ts";
import type { OTPAlgorithm } from "../core/otp/hotp.ts";

export const DEVICE_STATE_VERSION = 1;

/** A P-256 private key as a JWK (RFC 7518 §6.2.2): x, y and d base64url, 32 bytes each. */
export interface P256PrivateJWK {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
  d: string;
}

export interface DeviceTOTP {
  /** base32, as the server sent it at activation. */
  secret: string;
  algorithm: OTPAlgorithm;
  digits: number;
  period: number;
  issuer: string;
  account: string;
}

export interface DeviceAccount {
  /** The server's base URL (the activation link without `/authenticator#…`), e.g. https://twofold.example.edu. */
  server: string;
  deviceId: string;
  /** The name the device was activated with. */
  name: string;
  username: string;
  organization: string;
  /** ISO-8601 UTC. */
  activatedAt: string;
  privateKey: P256PrivateJWK;
  totp: DeviceTOTP;
  vapidPublicKey?: string;
}

export interface DeviceState {
  version: typeof DEVICE_STATE_VERSION;
  accounts: DeviceAccount[];
}

export function emptyDeviceState(): DeviceState {
  return { version: DEVICE_STATE_VERSION, accounts: [] };
}

export interface LoadedDeviceState {
  state: DeviceState;
  /** The file can be read by other users (it holds a private key and a TOTP seed). */
  exposed: boolean;
}

/** Read and check the state file; ERR_NOT_FOUND when it does not exist, ERR_VALIDATION when it is not one. */
export function readDeviceState(path: string): LoadedDeviceState {
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT")
      throw new TwofoldError(
        "ERR_NOT_FOUND",
        `no device state at ${path}: activate an account first (twofold device activate LINK)`,
        { cause },
      );
    throw new TwofoldError("ERR_VALIDATION", `cannot read the device state ${path}`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new TwofoldError("ERR_VALIDATION", `${path} is not a device state file (not JSON)`, { cause });
  }
  const problems = checkState(parsed);
  if (problems.length > 0)
    throw new TwofoldError("ERR_VALIDATION", `${path} is not a valid device state file`, {
      issues: problems.map((p) => ({ path: p[0], message: p[1] })),
    });
  return { state: parsed as DeviceState, exposed: process.platform !== "win32" && (mode & 0o077) !== 0 };
}

/** The state, or an empty one when the file does not exist yet (for activation). */
export function readDeviceStateOrEmpty(path: string): LoadedDeviceState {
  try {
    return readDeviceState(path);
  } catch (error) {
    if (error instanceof TwofoldError && error.code === "ERR_NOT_FOUND")
      return { state: emptyDeviceState(), exposed: false };
    throw error;
  }
}

/**
 * Write the state so that no other user can ever read it and a crash never leaves half a file: a new file
 * created with mode 0600 beside it (exclusive create), then renamed over the old one.
 */
export function writeDeviceState(path: string, state: DeviceState): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomHex(6)}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    // The umask cannot widen 0600, but an inherited ACL or odd umask handling could: set it explicitly.
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  } catch (cause) {
    rmSync(temporary, { force: true });
    throw new TwofoldError("ERR_VALIDATION", `cannot write the device state ${path}`, { cause });
  }
}

type Problem = [path: string, message: string];

function checkState(value: unknown): Problem[] {
  if (!isObject(value)) return [["", "not a JSON object"]];
  if (value["version"] !== DEVICE_STATE_VERSION)
    return [["version", `unsupported version ${JSON.stringify(value["version"])}`]];
  const accounts = value["accounts"];
  if (!Array.isArray(accounts)) return [["accounts", "not a list"]];
  return accounts.flatMap((a, i) => checkAccount(a).map(([p, m]): Problem => [`accounts[${i}].${p}`, m]));
}

function checkAccount(a: unknown): Problem[] {
  if (!isObject(a)) return [["", "not an object"]];
  const problems: Problem[] = [];
  for (const key of ["server", "deviceId", "name", "username", "organization", "activatedAt"])
    if (typeof a[key] !== "string") problems.push([key, "missing or not text"]);
  if (typeof a["server"] === "string" && !/^https?:\/\/[^/]/.test(a["server"]))
    problems.push(["server", "not an http(s) URL"]);
  const key = a["privateKey"];
  if (!isObject(key) || !isP256PrivateJWK(key)) problems.push(["privateKey", "not a P-256 private JWK"]);
  const totp = a["totp"];
  if (!isObject(totp)) problems.push(["totp", "missing"]);
  else {
    if (typeof totp["secret"] !== "string" || !decodeBase32(totp["secret"]))
      problems.push(["totp.secret", "not base32"]);
    if (!["SHA1", "SHA256", "SHA512"].includes(totp["algorithm"] as string))
      problems.push(["totp.algorithm", "not SHA1, SHA256 or SHA512"]);
    if (
      !Number.isInteger(totp["digits"]) ||
      (totp["digits"] as number) < 6 ||
      (totp["digits"] as number) > 10
    )
      problems.push(["totp.digits", "not 6 to 10"]);
    if (!Number.isInteger(totp["period"]) || (totp["period"] as number) < 1)
      problems.push(["totp.period", "not a whole number of seconds"]);
  }
  return problems;
}

/** The JWK's x and y must be the public point of d, so a hand-edited file cannot sign as another key. */
function isP256PrivateJWK(k: Record<string, unknown>): boolean {
  if (k["kty"] !== "EC" || k["crv"] !== "P-256") return false;
  const [x, y, d] = [k["x"], k["y"], k["d"]].map((v) =>
    typeof v === "string" && /^[A-Za-z0-9_-]{43}$/.test(v) ? Buffer.from(v, "base64url") : undefined,
  );
  if (!x || !y || !d) return false;
  try {
    const point = deriveP256PublicKey(d);
    return Buffer.from(point).equals(Buffer.concat([Buffer.from([4]), x, y]));
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
