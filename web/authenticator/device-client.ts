// The device API (docs/authenticator-protocol.md): activation, signed requests, the live stream, signed answers.
import { deviceRequestText, pushAnswerText } from "../../src/core/device-protocol.ts";
import type { Account } from "./accounts.ts";
import { sha256Base64url, signText } from "./crypto.ts";

/** A pending push as GET /device/v1/pushes and the stream show it; every text field is plain text. */
export interface DevicePush {
  txid: string;
  application: string;
  time: number;
  expiresAt: number;
  ip?: string;
  place?: string;
  info?: string;
  verified?: boolean;
  codeDigits?: number;
}

/** What POST /device/v1/activate answers. */
export interface ActivationAnswer {
  deviceId: string;
  username: string;
  organization: string;
  totp: {
    secret?: string;
    algorithm: string;
    digits: number;
    period: number;
    issuer?: string;
    account?: string;
  };
}

export type Delivery =
  | { type: "webpush"; subscription: { endpoint: string; keys: { p256dh: string; auth: string } } }
  | { type: "none" };

type Signer = Pick<Account, "origin" | "deviceId" | "signingKey">;

export class DeviceAPIError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(status: number, code?: string) {
    super(`device API answered ${status}${code ? ` ${code}` : ""}`);
    this.status = status;
    this.code = code;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: JSON from the server, read field by field by the callers.
async function readJSON(response: Response): Promise<any> {
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  let body: any;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (!response.ok) throw new DeviceAPIError(response.status, body?.error?.code);
  return body;
}

/** GET /device/v1/vapid: the server's VAPID key, needed before a Web Push subscription can be made. */
export async function fetchVAPIDKey(origin: string): Promise<string> {
  const body = await readJSON(await fetch(new URL("/device/v1/vapid", origin), { cache: "no-store" }));
  return body.publicKey;
}

/** POST /device/v1/activate ("Activation"). */
export async function activateDevice(
  origin: string,
  registration: { token: string; name: string; publicKey: string; delivery?: Delivery },
): Promise<ActivationAnswer> {
  const response = await fetch(new URL("/device/v1/activate", origin), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(registration),
    cache: "no-store",
  });
  return readJSON(response);
}

/** A request the device makes about itself, with the Twofold-Device Authorization header ("Signed device requests"). */
async function signedFetch(
  account: Signer,
  method: string,
  path: string,
  { body, signal }: { body?: unknown; signal?: AbortSignal } = {},
): Promise<Response> {
  const text = body === undefined ? "" : JSON.stringify(body);
  const timestamp = Date.now();
  const signature = await signText(
    account.signingKey,
    deviceRequestText(method, path, timestamp, await sha256Base64url(text)),
  );
  const headers: Record<string, string> = {
    authorization: `Twofold-Device ${account.deviceId}:${timestamp}:${signature}`,
  };
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(new URL(path, account.origin), {
    method,
    headers,
    ...(body === undefined ? {} : { body: text }),
    cache: "no-store",
    ...(signal ? { signal } : {}),
  });
}

/** GET /device/v1/pushes: the user's pending pushes, newest first. */
export async function listPushes(account: Signer, signal?: AbortSignal): Promise<DevicePush[]> {
  const body = await readJSON(
    await signedFetch(account, "GET", "/device/v1/pushes", signal ? { signal } : {}),
  );
  return body.pushes;
}

/** PUT /device/v1/delivery: `{type:"webpush", subscription}` or `{type:"none"}`. */
export async function putDelivery(account: Signer, delivery: Delivery): Promise<unknown> {
  return readJSON(await signedFetch(account, "PUT", "/device/v1/delivery", { body: delivery }));
}

/** POST /device/v1/pushes/<txid>/answer, signed over the answer itself. Resolves to the push's final status. */
export async function answerPush(
  account: Signer,
  txid: string,
  decision: "approve" | "deny" | "fraud",
  code: string,
): Promise<string> {
  const timestamp = Date.now();
  const signature = await signText(account.signingKey, pushAnswerText(txid, decision, code, timestamp));
  const body = { deviceId: account.deviceId, decision, timestamp, signature, ...(code ? { code } : {}) };
  const response = await fetch(
    new URL(`/device/v1/pushes/${encodeURIComponent(txid)}/answer`, account.origin),
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    },
  );
  return (await readJSON(response)).status;
}

/**
 * GET /device/v1/stream, read with fetch because EventSource cannot send the Authorization header. Calls
 * onOpen once the server accepted, onEvent(type, data) for each event, onActivity for every chunk (keep-alives
 * included). Resolves when the server ends the stream; rejects on an error answer or a broken connection.
 */
export async function readStream(
  account: Signer,
  {
    signal,
    onOpen,
    onEvent,
    onActivity,
  }: {
    signal: AbortSignal;
    onOpen: () => void;
    onEvent: (type: string, data: string) => void;
    onActivity: () => void;
  },
): Promise<void> {
  const response = await signedFetch(account, "GET", "/device/v1/stream", { signal });
  if (!response.ok || !response.body) {
    await readJSON(response);
    throw new DeviceAPIError(response.status);
  }
  onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = createEventStreamParser(onEvent);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onActivity();
    parser(value);
  }
}

/** The text/event-stream format (HTML Living Standard §9.2.6): fields per line, an empty line dispatches. */
export function createEventStreamParser(
  onEvent: (type: string, data: string) => void,
): (chunk: string) => void {
  let buffer = "";
  let type = "";
  let data: string[] = [];
  const line = (text: string) => {
    if (text === "") {
      if (data.length > 0) onEvent(type || "message", data.join("\n"));
      type = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  };
  let pendingCR = false;
  return (chunk: string) => {
    // A chunk ending in "\r" may be the first half of "\r\n": the "\n" then starts the next chunk.
    const text = pendingCR && chunk.startsWith("\n") ? chunk.slice(1) : chunk;
    pendingCR = text.endsWith("\r");
    buffer += text;
    const parts = buffer.split(/\r\n|\r|\n/);
    buffer = parts.pop() ?? "";
    for (const part of parts) line(part);
  };
}
