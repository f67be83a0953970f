// SMS through an HTTP provider's REST API (Twilio-, Vonage-, Telnyx-style): URL, method, auth headers, form or JSON body, success status and message-id path from configuration.
import { constantTimeEqual, hmac } from "../../core/crypto/index.ts";
import {
  type DeliveryReceipt,
  MessageSendError,
  type SMSGateway,
  type SMSMessage,
} from "../../core/ports.ts";

export interface HTTPGatewayOptions {
  name: string;
  url: string;
  method: "POST" | "PUT" | "GET";
  headers: Readonly<Record<string, string>>;
  body: "form" | "json";
  /** Request fields; `{to}`, `{from}`, `{text}` and `{reference}` are filled in. */
  fields: Readonly<Record<string, string>>;
  successStatus: readonly number[];
  /** Dotted path of the provider's message id in its JSON answer (`sid`, `messages.0.message-id`); "" for none. */
  messageIdPath: string;
  timeoutMs: number;
  sender: string;
}

/** Errors of a connection that never carried the request: certainly not sent. */
const NOT_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

function fill(template: string, message: SMSMessage, sender: string): string {
  return template.replace(/\{(to|from|text|reference)\}/g, (_, key: string) =>
    key === "to" ? message.to : key === "from" ? sender : key === "text" ? message.text : message.reference,
  );
}

/** `a.0.b` of a parsed JSON value. */
export function readPath(value: unknown, path: string): unknown {
  let here: unknown = value;
  for (const part of path.split(".")) {
    if (here === null || typeof here !== "object") return undefined;
    here = (here as Record<string, unknown>)[part];
  }
  return here;
}

export class HTTPSMSSender implements SMSGateway {
  readonly name: string;
  readonly #o: HTTPGatewayOptions;

  constructor(options: HTTPGatewayOptions) {
    this.name = options.name;
    this.#o = options;
  }

  async send(message: SMSMessage, signal: AbortSignal): Promise<{ gatewayMessageId: string | null }> {
    const o = this.#o;
    const fields = Object.entries(o.fields).map(([k, v]) => [k, fill(v, message, o.sender)] as const);
    const url = new URL(o.url);
    const headers: Record<string, string> = { ...o.headers };
    let body: string | undefined;
    if (o.method === "GET") for (const [k, v] of fields) url.searchParams.set(k, v);
    else if (o.body === "json") {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(Object.fromEntries(fields));
    } else {
      headers["content-type"] ??= "application/x-www-form-urlencoded";
      body = new URLSearchParams(fields as Array<[string, string]>).toString();
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: o.method,
        headers,
        ...(body === undefined ? {} : { body }),
        redirect: "error",
        signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
      });
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code ?? "";
      // Never the URL's query or the body in the message: they hold the number and the text.
      if (NOT_CONNECTED.has(code)) throw new MessageSendError(`${url.host}: ${code}`, true);
      throw new MessageSendError(`${url.host}: no answer (${(error as Error).name})`, false);
    }
    const text = await response.text().catch(() => "");
    if (!o.successStatus.includes(response.status))
      throw new MessageSendError(`${url.host}: HTTP ${response.status}`, true);
    if (!o.messageIdPath) return { gatewayMessageId: null };
    let id: unknown;
    try {
      id = readPath(JSON.parse(text), o.messageIdPath);
    } catch {
      id = undefined;
    }
    return { gatewayMessageId: typeof id === "string" || typeof id === "number" ? String(id) : null };
  }
}

/**
 * How a provider reports delivery back (a status callback to `POST /sms/v1/receipts/<gateway>`): how the call is
 * authenticated, and where its message id and status are.
 */
export interface HTTPReceiptOptions {
  gateway: string;
  /**
   * `token`: a shared secret the provider sends as `?token=` in the callback URL or as a bearer token;
   * `twilio`: Twilio's X-Twilio-Signature (HMAC-SHA1 of the callback URL and the sorted form fields, keyed with
   * the account's auth token in `secret`).
   */
  auth: "token" | "twilio";
  secret: string;
  /** Dotted paths of the provider's message id (the one its send answer gave) and of the delivery status. */
  idField: string;
  statusField: string;
  /** Status values that mean delivered, and that mean it never will be; any other is an interim state. */
  delivered: readonly string[];
  undelivered: readonly string[];
}

/** A status callback as it arrived: the URL the provider called (public), its headers and its parsed body. */
export interface ReceiptRequest {
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Readonly<Record<string, unknown>>;
}

export type ReceiptReading =
  | { ok: true; receipt: DeliveryReceipt | null }
  | { ok: false; code: "ERR_UNAUTHENTICATED" | "ERR_VALIDATION"; message: string };

function header(request: ReceiptRequest, name: string): string {
  const v = request.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

/** Twilio's request signature: base64 HMAC-SHA1 over the URL, then each form field's name and value, names sorted. */
export function twilioSignature(
  authToken: string,
  url: string,
  fields: Readonly<Record<string, unknown>>,
): string {
  const data =
    url +
    Object.keys(fields)
      .sort()
      .map((k) => `${k}${String(fields[k])}`)
      .join("");
  return Buffer.from(hmac("SHA1", new TextEncoder().encode(authToken), data)).toString("base64");
}

/**
 * Check a status callback's authentication (in constant time) and read it: the receipt, or null for an interim
 * status (queued, sent) that changes nothing.
 */
export function readHTTPReceipt(o: HTTPReceiptOptions, request: ReceiptRequest): ReceiptReading {
  const denied = {
    ok: false as const,
    code: "ERR_UNAUTHENTICATED" as const,
    message: "receipt not authenticated",
  };
  if (!o.secret) return denied;
  if (o.auth === "twilio") {
    const given = header(request, "x-twilio-signature");
    // Twilio posts a flat form: a value that is not text was not signed by it (and may not even turn into text).
    if (!Object.values(request.body).every((v) => typeof v === "string")) return denied;
    if (!given || !constantTimeEqual(given, twilioSignature(o.secret, request.url, request.body)))
      return denied;
  } else {
    const bearer = /^Bearer\s+(.+)$/i.exec(header(request, "authorization"))?.[1] ?? "";
    const token = new URL(request.url).searchParams.get("token") ?? bearer;
    if (!token || !constantTimeEqual(token, o.secret)) return denied;
  }
  const id = readPath(request.body, o.idField);
  const status = readPath(request.body, o.statusField);
  if (
    (typeof id !== "string" && typeof id !== "number") ||
    String(id).length === 0 ||
    String(id).length > 128
  )
    return { ok: false, code: "ERR_VALIDATION", message: `no message id at ${o.idField}` };
  if (typeof status !== "string" || status.length === 0 || status.length > 64)
    return { ok: false, code: "ERR_VALIDATION", message: `no status at ${o.statusField}` };
  const word = status.toLowerCase();
  const delivered = o.delivered.some((s) => s.toLowerCase() === word);
  if (!delivered && !o.undelivered.some((s) => s.toLowerCase() === word)) return { ok: true, receipt: null };
  return {
    ok: true,
    receipt: { gateway: o.gateway, gatewayMessageId: String(id), delivered, detail: status },
  };
}
