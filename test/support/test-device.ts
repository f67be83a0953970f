// A minimal Twofold Authenticator for server tests: a P-256 key, signed requests and answers, an SSE reader.
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import { canonicalDeviceRequest } from "../../src/core/use-cases/devices.ts";
import { canonicalPushAnswer, type PushDecision } from "../../src/core/use-cases/push.ts";

export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

export class TestDevice {
  readonly signer = generateP256Signer();
  deviceId = "";

  constructor(
    readonly baseUrl: string,
    readonly now: () => number,
  ) {}

  get publicKey(): string {
    return Buffer.from(this.signer.publicKeyRaw).toString("base64url");
  }

  async activate(token: string, delivery?: unknown): Promise<Response> {
    const response = await fetch(`${this.baseUrl}/device/v1/activate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        token,
        name: "Test phone",
        publicKey: this.publicKey,
        ...(delivery ? { delivery } : {}),
      }),
    });
    if (response.ok) this.deviceId = ((await response.clone().json()) as { deviceId: string }).deviceId;
    return response;
  }

  authorization(method: string, path: string, body = "", timestamp = this.now()): string {
    const signed = canonicalDeviceRequest({
      method,
      path,
      timestamp,
      body: new Uint8Array(Buffer.from(body)),
    });
    const signature = Buffer.from(this.signer.sign(signed)).toString("base64url");
    return `Twofold-Device ${this.deviceId}:${timestamp}:${signature}`;
  }

  signedFetch(method: string, path: string, body?: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      ...init,
      method,
      headers: {
        authorization: this.authorization(method, path, body ?? ""),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body }),
    });
  }

  answerBody(txid: string, decision: PushDecision, code?: string, timestamp = this.now()) {
    const signature = Buffer.from(
      this.signer.sign(canonicalPushAnswer({ txid, decision, ...(code ? { code } : {}), timestamp })),
    ).toString("base64url");
    return { deviceId: this.deviceId, decision, ...(code ? { code } : {}), timestamp, signature };
  }

  answer(txid: string, decision: PushDecision, code?: string): Promise<Response> {
    return fetch(`${this.baseUrl}/device/v1/pushes/${txid}/answer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(this.answerBody(txid, decision, code)),
    });
  }

  /** Open the live stream; events are collected in `events`, `next(event)` waits for the next of a kind. */
  async openStream(): Promise<EventStream> {
    const controller = new AbortController();
    const response = await this.signedFetch("GET", "/device/v1/stream", undefined, {
      signal: controller.signal,
    });
    return new EventStream(response, controller);
  }
}

export class EventStream {
  readonly events: StreamEvent[] = [];
  #wake: (() => void) | undefined;
  #consumed = 0;

  constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    if (response.ok && response.body) void this.#read(response.body);
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) {
            this.events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
            this.#wake?.();
          }
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // aborted
    }
  }

  /** The next event not yet returned by `next`, waiting up to `ms`. */
  async next(ms = 5000): Promise<StreamEvent> {
    const deadline = Date.now() + ms;
    while (this.events.length <= this.#consumed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no stream event within ${ms} ms (have ${JSON.stringify(this.events)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.events[this.#consumed++]!;
  }

  close(): void {
    this.controller.abort();
  }
}
