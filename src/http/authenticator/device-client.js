// The device API (docs/authenticator-protocol.md): activation, signed requests, the live stream, signed answers.
import { canonicalAnswer, canonicalRequest, sha256Base64url, signText } from "./crypto.js";

export class DeviceAPIError extends Error {
  constructor(status, code) {
    super(`device API answered ${status}${code ? ` ${code}` : ""}`);
    this.status = status;
    this.code = code;
  }
}

async function readJSON(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (!response.ok) throw new DeviceAPIError(response.status, body?.error?.code);
  return body;
}

/** GET /device/v1/vapid: the server's VAPID key, needed before a Web Push subscription can be made. */
export async function fetchVAPIDKey(origin) {
  const body = await readJSON(await fetch(new URL("/device/v1/vapid", origin), { cache: "no-store" }));
  return body.publicKey;
}

/** POST /device/v1/activate ("Activation"). */
export async function activateDevice(origin, registration) {
  const response = await fetch(new URL("/device/v1/activate", origin), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(registration),
    cache: "no-store",
  });
  return readJSON(response);
}

/** A request the device makes about itself, with the Twofold-Device Authorization header ("Signed device requests"). */
async function signedFetch(account, method, path, { body, signal } = {}) {
  const text = body === undefined ? "" : JSON.stringify(body);
  const timestamp = Date.now();
  const signature = await signText(
    account.signingKey,
    canonicalRequest(method, path, timestamp, await sha256Base64url(text)),
  );
  const headers = { authorization: `Twofold-Device ${account.deviceId}:${timestamp}:${signature}` };
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
export async function listPushes(account, signal) {
  const body = await readJSON(await signedFetch(account, "GET", "/device/v1/pushes", { signal }));
  return body.pushes;
}

/** PUT /device/v1/delivery: `{type:"webpush", subscription}` or `{type:"none"}`. */
export async function putDelivery(account, delivery) {
  return readJSON(await signedFetch(account, "PUT", "/device/v1/delivery", { body: delivery }));
}

/** POST /device/v1/pushes/<txid>/answer, signed over the answer itself. Resolves to the push's final status. */
export async function answerPush(account, txid, decision, code) {
  const timestamp = Date.now();
  const signature = await signText(account.signingKey, canonicalAnswer(txid, decision, code, timestamp));
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
export async function readStream(account, { signal, onOpen, onEvent, onActivity }) {
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
export function createEventStreamParser(onEvent) {
  let buffer = "";
  let type = "";
  let data = [];
  const line = (text) => {
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
  return (chunk) => {
    // A chunk ending in "\r" may be the first half of "\r\n": the "\n" then starts the next chunk.
    const text = pendingCR && chunk.startsWith("\n") ? chunk.slice(1) : chunk;
    pendingCR = text.endsWith("\r");
    buffer += text;
    const parts = buffer.split(/\r\n|\r|\n/);
    buffer = parts.pop() ?? "";
    for (const part of parts) line(part);
  };
}
