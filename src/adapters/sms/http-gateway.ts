// SMS through an HTTP provider's REST API (Twilio-, Vonage-, Telnyx-style): URL, method, auth headers, form or JSON body, success status and message-id path from configuration.
import { MessageSendError, type SMSGateway, type SMSMessage } from "../../core/ports.ts";

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
