// A Twofold Authenticator device (docs/authenticator-protocol.md): activation, signed requests, pending pushes, the live stream, answers, passcodes.
import { decodeBase32 } from "../core/base32.ts";
import { generateP256KeyPair, sha256Hex, signES256 } from "../core/crypto/index.ts";
import { deviceRequestText } from "../core/device-protocol.ts";
import { ERROR_CODES, type ErrorCode, TwofoldError } from "../core/errors.ts";
import type { PushStatus } from "../core/model.ts";
import { generateTOTP, totpStep } from "../core/otp/totp.ts";
import { canonicalPushAnswer, type PushDecision } from "../core/use-cases/push.ts";
import type { DeviceAccount, DeviceTOTP, P256PrivateJWK } from "./device-state.ts";
import { createEventStreamParser } from "./event-stream.ts";
import { createTransport, readBody, type Transport, type TransportOptions } from "./http-transport.ts";

/** Three of the server's 15 s keep-alive lines missed: the stream is gone. */
const STREAM_IDLE_MS = 45_000;

export type { PushDecision };

/** A pending push as the device API shows it (§ GET /device/v1/pushes). Every text field is plain text. */
export interface DevicePush {
  txid: string;
  application: string;
  time: number;
  ip: string | null;
  place: string | null;
  info: string | null;
  expiresAt: number;
  verified: boolean;
  codeDigits: number;
}

export type DeviceEvent =
  | { type: "push"; push: DevicePush }
  | { type: "resolved"; txid: string; status: PushStatus };

export interface DeviceClientOptions extends TransportOptions {
  /** Shared HTTP connections (a benchmark running many devices); made from the options when absent. */
  transport?: Transport;
  /** Wall clock in ms; the signed timestamps must be within 60 s of the server's. */
  now?: () => number;
}

export interface Passcode {
  code: string;
  /** Seconds until this code is replaced by the next one. */
  secondsLeft: number;
  period: number;
}

/** What an activation link names: the server's base URL and the single-use token. */
export interface ActivationLink {
  server: string;
  token: string;
}

const DEVICE_PATH = "/device/v1";

/**
 * Split `<publicUrl>/authenticator#activate=<token>` into the server's base URL and the token. The base is
 * the link without its last path segment, so a server published under a path (https://host/twofold) works.
 */
export function parseActivationLink(link: string): ActivationLink | undefined {
  let url: URL;
  try {
    url = new URL(link.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  const token = new URLSearchParams(url.hash.slice(1)).get("activate");
  if (!token || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const path = url.pathname.replace(/\/authenticator\/?$/, "").replace(/\/+$/, "");
  return { server: `${url.origin}${path}`, token };
}

/** The exact bytes a signed device request covers (§ Signed device requests). */
export function canonicalDeviceRequest(
  method: string,
  pathAndQuery: string,
  timestamp: number,
  body: Uint8Array,
): Uint8Array {
  const bodyHash = Buffer.from(sha256Hex(body), "hex").toString("base64url");
  return new Uint8Array(Buffer.from(deviceRequestText(method, pathAndQuery, timestamp, bodyHash), "utf8"));
}

export interface ActivationResult {
  account: DeviceAccount;
}

/**
 * Make a new P-256 key pair and bind it to the user named by the activation link (POST /device/v1/activate).
 * The returned account holds the private key and the TOTP seed: the caller stores it (mode 0600).
 */
export async function activateDevice(
  link: ActivationLink,
  name: string,
  options: DeviceClientOptions = {},
): Promise<DeviceAccount> {
  const now = options.now ?? Date.now;
  const keys = generateP256KeyPair();
  const raw = Buffer.from(keys.publicKeyRaw);
  const privateKey: P256PrivateJWK = {
    kty: "EC",
    crv: "P-256",
    x: raw.subarray(1, 33).toString("base64url"),
    y: raw.subarray(33, 65).toString("base64url"),
    d: Buffer.from(keys.privateKey).toString("base64url"),
  };
  const transport = options.transport ?? createTransport(options);
  try {
    const answer = await exchange(transport, "POST", new URL(`${link.server}${DEVICE_PATH}/activate`), {
      body: { token: link.token, name, publicKey: raw.toString("base64url") },
    });
    const a = answer as Record<string, unknown>;
    const totp = a["totp"] as Record<string, unknown> | undefined;
    if (typeof a["deviceId"] !== "string" || typeof a["username"] !== "string" || !isTOTP(totp))
      throw unexpected("the activation answer lacks deviceId, username or totp");
    return {
      server: link.server,
      deviceId: a["deviceId"],
      name,
      username: a["username"],
      organization: typeof a["organization"] === "string" ? a["organization"] : "",
      activatedAt: new Date(now()).toISOString(),
      privateKey,
      totp: {
        secret: totp.secret,
        algorithm: totp.algorithm,
        digits: totp.digits,
        period: totp.period,
        issuer: typeof totp.issuer === "string" ? totp.issuer : "",
        account: typeof totp.account === "string" ? totp.account : a["username"],
      },
      ...(typeof a["vapidPublicKey"] === "string" ? { vapidPublicKey: a["vapidPublicKey"] } : {}),
    };
  } finally {
    if (!options.transport) transport.close();
  }
}

/** One activated account talking to its server. */
export class DeviceClient {
  readonly account: DeviceAccount;
  readonly #transport: Transport;
  readonly #ownsTransport: boolean;
  readonly #now: () => number;
  readonly #privateKey: Uint8Array;
  readonly #totpKey: Uint8Array;

  constructor(account: DeviceAccount, options: DeviceClientOptions = {}) {
    this.account = account;
    this.#transport = options.transport ?? createTransport(options);
    this.#ownsTransport = !options.transport;
    this.#now = options.now ?? Date.now;
    this.#privateKey = new Uint8Array(Buffer.from(account.privateKey.d, "base64url"));
    const key = decodeBase32(account.totp.secret);
    if (!key) throw new TwofoldError("ERR_VALIDATION", "the account's TOTP secret is not base32");
    this.#totpKey = key;
  }

  /** The user's pending pushes, newest first (GET /device/v1/pushes, signed). */
  async pending(): Promise<DevicePush[]> {
    const answer = (await this.#signed("GET", "/pushes")) as { pushes?: unknown };
    if (!Array.isArray(answer.pushes)) throw unexpected("the answer has no pushes list");
    return answer.pushes.map(toPush);
  }

  /**
   * Follow the live stream (GET /device/v1/stream, signed) until the server ends it or `signal` aborts.
   * Resolves when it ends (the caller reconnects); rejects when it cannot be opened.
   */
  /**
   * `idleMs`: the server writes a keep-alive line every 15 s, so a stream that brings nothing for longer has been
   * dropped somewhere on the way without a word (a NAT's table, a proxy): it then ends with ERR_SERVER_UNREACHABLE,
   * and the caller opens another.
   */
  async stream(
    onEvent: (event: DeviceEvent) => void,
    signal: AbortSignal,
    idleMs = STREAM_IDLE_MS,
  ): Promise<void> {
    const url = this.#url("/stream");
    let res: Awaited<ReturnType<Transport["request"]>>;
    try {
      res = await this.#transport.request({
        method: "GET",
        url,
        headers: { accept: "text/event-stream", authorization: this.#authorization("GET", url) },
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    if (res.status !== 200) await throwForAnswer(res.status, res.contentType, await readBody(res.body));
    if (!res.contentType.startsWith("text/event-stream")) {
      res.body.destroy();
      throw unexpected(`the stream answered ${res.contentType || "without a content type"}`);
    }
    const feed = createEventStreamParser((e) => {
      let data: unknown;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      // Unknown event types are skipped: a newer server may send more.
      if (e.type === "push") onEvent({ type: "push", push: toPush(data) });
      else if (e.type === "resolved" && isObject(data) && typeof data["txid"] === "string")
        onEvent({ type: "resolved", txid: data["txid"], status: data["status"] as PushStatus });
    });
    res.body.setEncoding("utf8");
    const body = res.body;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const awake = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          body.destroy(
            new TwofoldError("ERR_SERVER_UNREACHABLE", `the stream brought nothing for ${idleMs / 1000} s`),
          ),
        idleMs,
      );
    };
    awake();
    try {
      for await (const chunk of body) {
        awake();
        feed(chunk as string);
      }
    } catch (error) {
      if (!signal.aborted && (error as Error).name !== "AbortError") throw error;
    } finally {
      clearTimeout(idle);
    }
  }

  /**
   * Answer a push (POST /device/v1/pushes/<txid>/answer). The answer itself is signed, over
   * canonicalPushAnswer. `code` is what the user typed for a verified push.
   */
  async answer(txid: string, decision: PushDecision, code?: string): Promise<PushStatus> {
    const timestamp = this.#now();
    const typed = code ?? "";
    const signature = signES256(
      this.#privateKey,
      canonicalPushAnswer({ txid, decision, code: typed, timestamp }),
    );
    const answer = (await exchange(
      this.#transport,
      "POST",
      this.#url(`/pushes/${encodeURIComponent(txid)}/answer`),
      {
        body: {
          deviceId: this.account.deviceId,
          decision,
          ...(typed === "" ? {} : { code: typed }),
          timestamp,
          signature: Buffer.from(signature).toString("base64url"),
        },
      },
    )) as { status?: unknown };
    if (typeof answer.status !== "string") throw unexpected("the answer has no status");
    return answer.status as PushStatus;
  }

  /** Stop receiving Web Push messages, or register a subscription (PUT /device/v1/delivery, signed). */
  async setDelivery(delivery: { type: "none" } | { type: "webpush"; subscription: unknown }): Promise<void> {
    await this.#signed("PUT", "/delivery", delivery);
  }

  /** The offline passcode (RFC 6238) the device shows at `nowMs`, and how long it stays. */
  passcode(nowMs: number = this.#now()): Passcode {
    const t = this.account.totp;
    const code = generateTOTP(
      { key: this.#totpKey, algorithm: t.algorithm, digits: t.digits, period: t.period },
      nowMs,
    );
    const nextStepMs = (totpStep(nowMs, t.period) + 1) * t.period * 1000;
    return { code, secondsLeft: Math.ceil((nextStepMs - nowMs) / 1000), period: t.period };
  }

  /** Close idle connections (not when the transport was shared in). */
  close(): void {
    if (this.#ownsTransport) this.#transport.close();
  }

  #url(path: string): URL {
    return new URL(`${this.account.server}${DEVICE_PATH}${path}`);
  }

  #authorization(method: string, url: URL, body: Uint8Array = new Uint8Array(0)): string {
    const timestamp = this.#now();
    const data = canonicalDeviceRequest(method, `${url.pathname}${url.search}`, timestamp, body);
    const signature = Buffer.from(signES256(this.#privateKey, data)).toString("base64url");
    return `Twofold-Device ${this.account.deviceId}:${timestamp}:${signature}`;
  }

  async #signed(method: "GET" | "PUT" | "POST", path: string, body?: unknown): Promise<unknown> {
    const url = this.#url(path);
    const bytes = body === undefined ? undefined : new Uint8Array(Buffer.from(JSON.stringify(body), "utf8"));
    return exchange(this.#transport, method, url, {
      ...(bytes ? { bytes } : {}),
      authorization: this.#authorization(method, url, bytes),
    });
  }
}

/** Send one JSON request and return the parsed answer; the server's error envelope becomes a TwofoldError. */
async function exchange(
  transport: Transport,
  method: "GET" | "POST" | "PUT",
  url: URL,
  o: { body?: unknown; bytes?: Uint8Array; authorization?: string },
): Promise<unknown> {
  const bytes =
    o.bytes ??
    (o.body === undefined ? undefined : new Uint8Array(Buffer.from(JSON.stringify(o.body), "utf8")));
  const headers: Record<string, string> = { accept: "application/json" };
  if (bytes) headers["content-type"] = "application/json";
  if (o.authorization) headers["authorization"] = o.authorization;
  const res = await transport.request({ method, url, headers, ...(bytes ? { body: bytes } : {}) });
  const text = await readBody(res.body);
  if (res.status < 200 || res.status >= 300) return throwForAnswer(res.status, res.contentType, text);
  if (!res.contentType.startsWith("application/json"))
    throw unexpected(`HTTP ${res.status} with ${res.contentType || "no content type"}`);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw unexpected(`HTTP ${res.status} with a body that is not JSON`, cause);
  }
}

const KNOWN_CODES = new Set<string>(ERROR_CODES);

async function throwForAnswer(status: number, contentType: string, text: string): Promise<never> {
  let envelope: { error?: { code?: unknown; message?: unknown } } | undefined;
  if (contentType.startsWith("application/json")) {
    try {
      envelope = JSON.parse(text);
    } catch {
      envelope = undefined;
    }
  }
  const code = envelope?.error?.code;
  const message = envelope?.error?.message;
  if (typeof code === "string" && KNOWN_CODES.has(code))
    throw new TwofoldError(code as ErrorCode, typeof message === "string" ? message : code, {
      detail: `HTTP ${status}`,
    });
  throw unexpected(`HTTP ${status}${typeof code === "string" ? ` ${code}` : ""}`);
}

function unexpected(what: string, cause?: unknown): TwofoldError {
  return new TwofoldError("ERR_INTERNAL", `unexpected answer from the server: ${what}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

function toPush(v: unknown): DevicePush {
  if (!isObject(v) || typeof v["txid"] !== "string") throw unexpected("a push without a txid");
  const text = (x: unknown) => (typeof x === "string" ? x : null);
  return {
    txid: v["txid"],
    application: text(v["application"]) ?? "",
    time: typeof v["time"] === "number" ? v["time"] : 0,
    ip: text(v["ip"]),
    place: text(v["place"]),
    info: text(v["info"]),
    expiresAt: typeof v["expiresAt"] === "number" ? v["expiresAt"] : 0,
    verified: v["verified"] === true,
    codeDigits: typeof v["codeDigits"] === "number" ? v["codeDigits"] : 0,
  };
}

function isTOTP(v: Record<string, unknown> | undefined): v is Record<string, unknown> & DeviceTOTP {
  return (
    v !== undefined &&
    typeof v["secret"] === "string" &&
    decodeBase32(v["secret"]) !== undefined &&
    ["SHA1", "SHA256", "SHA512"].includes(v["algorithm"] as string) &&
    Number.isInteger(v["digits"]) &&
    Number.isInteger(v["period"]) &&
    (v["period"] as number) > 0
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
