// A local RFC 8030 push service for tests: checks VAPID, decrypts each message with its subscription's keys, records it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  decryptWebPushPayload,
  MAX_BODY_BYTES,
  type PushSubscription,
  verifyVAPIDAuthorization,
  type WebPushReceiver,
} from "../../src/adapters/push/web-push.ts";
import { generateP256KeyPair, randomBytes, randomHex } from "../../src/core/crypto/index.ts";
import { isTwofoldError } from "../../src/core/errors.ts";
import { Secret } from "../../src/core/secret.ts";

export interface ReceivedPushMessage {
  id: string;
  ttl: number;
  urgency: string | null;
  topic: string | null;
  /** What the user agent would read, after decryption. */
  plaintext: Uint8Array;
  /** The request body as it crossed the wire. */
  body: Uint8Array;
  /** The `k` the request's VAPID token verified under. */
  vapidPublicKey: Uint8Array;
  vapidSubject: string | undefined;
}

export interface RefusedPushRequest {
  id: string;
  status: number;
  reason: string;
}

/** What `respondWith` can make the service do instead of accepting: a status, or never answering. */
export type PushFailureMode = number | "hang";

/**
 * Start a push service on 127.0.0.1 with an ephemeral port. `now` is the service's clock in
 * milliseconds: pass the sender's clock when the sender runs on a test clock, or VAPID tokens
 * dated by that clock are judged against the wall clock and refused once the dates drift apart.
 */
export async function startPushEndpoint(options: { now?: () => number } = {}): Promise<PushEndpoint> {
  const endpoint = new PushEndpoint();
  const now = options.now;
  if (now) endpoint.nowSeconds = () => Math.floor(now() / 1000);
  await endpoint.listen();
  return endpoint;
}

export class PushEndpoint {
  readonly #server: Server;
  readonly #receivers = new Map<string, WebPushReceiver>();
  readonly #received: ReceivedPushMessage[] = [];
  readonly #refused: RefusedPushRequest[] = [];
  readonly #waiters = new Set<() => void>();
  #failure: PushFailureMode | null = null;
  #requests = 0;
  #origin = "";
  /** The service's own time, in seconds, for checking VAPID `exp`; the wall clock unless set. */
  nowSeconds: () => number = () => Math.floor(Date.now() / 1000);

  constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.#origin = `http://127.0.0.1:${port}`;
  }

  get origin(): string {
    return this.#origin;
  }

  /** Every request that reached the service, accepted or not. */
  get requestCount(): number {
    return this.#requests;
  }

  /** Subscribe as a browser would: a fresh P-256 key pair and a 16-byte auth secret (RFC 8291 §3.1–3.2). */
  createSubscription(): { subscription: PushSubscription; id: string } {
    const id = randomHex(16);
    const keys = generateP256KeyPair();
    const authSecret = randomBytes(16);
    this.#receivers.set(id, {
      privateKey: new Secret(keys.privateKey),
      publicKeyRaw: keys.publicKeyRaw,
      authSecret,
    });
    return {
      id,
      subscription: {
        endpoint: `${this.#origin}/push/${id}`,
        keys: {
          p256dh: Buffer.from(keys.publicKeyRaw).toString("base64url"),
          auth: Buffer.from(authSecret).toString("base64url"),
        },
      },
    };
  }

  /** Expire a subscription: later messages to it get 404 (RFC 8030 §7.3). */
  expire(id: string): void {
    this.#receivers.delete(id);
  }

  received(id: string): ReceivedPushMessage[] {
    return this.#received.filter((m) => m.id === id);
  }

  refused(id?: string): RefusedPushRequest[] {
    return this.#refused.filter((r) => id === undefined || r.id === id);
  }

  /** The first message for `id`, waiting up to `timeoutMs` for it to arrive. */
  async waitFor(id: string, timeoutMs: number): Promise<ReceivedPushMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [first] = this.received(id);
      if (first) return first;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no push message for ${id} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** Answer every push request with `mode` instead of accepting it; null goes back to normal. */
  respondWith(mode: PushFailureMode | null): void {
    this.#failure = mode;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#requests++;
    const match = /^\/push\/([0-9a-f]+)$/.exec(req.url ?? "");
    if (req.method !== "POST" || !match) {
      res.writeHead(match ? 405 : 404).end();
      return;
    }
    const id = match[1]!;
    const body = await readBody(req, MAX_BODY_BYTES);
    const refuse = (status: number, reason: string) => {
      this.#refused.push({ id, status, reason });
      res.writeHead(status, { "Content-Type": "text/plain" }).end(reason);
    };

    if (this.#failure === "hang") return;
    if (this.#failure !== null) return refuse(this.#failure, "failure mode");
    // RFC 8030 §7.2: bodies up to 4096 octets must be accepted; anything longer may get 413.
    if (body === undefined) return refuse(413, "body over 4096 bytes");
    const receiver = this.#receivers.get(id);
    if (!receiver) return refuse(404, "no such subscription");
    if (req.headers["content-encoding"] !== "aes128gcm")
      return refuse(400, "content-encoding is not aes128gcm");
    // RFC 8030 §5.2: TTL is required.
    const ttlHeader = req.headers["ttl"];
    if (typeof ttlHeader !== "string" || !/^\d+$/.test(ttlHeader)) return refuse(400, "TTL missing");

    // RFC 8292 §4.2: 401 when authentication is absent, 403 when it is invalid.
    const authorization = req.headers.authorization;
    if (!authorization) return refuse(401, "no Authorization");
    let vapid: ReturnType<typeof verifyVAPIDAuthorization>;
    try {
      vapid = verifyVAPIDAuthorization(authorization, this.#origin, this.nowSeconds());
    } catch (error) {
      return refuse(403, isTwofoldError(error) ? error.message : "VAPID check failed");
    }

    let plaintext: Uint8Array;
    try {
      plaintext = decryptWebPushPayload(body, receiver);
    } catch (error) {
      return refuse(400, isTwofoldError(error) ? error.message : "decryption failed");
    }
    this.#received.push({
      id,
      ttl: Number(ttlHeader),
      urgency: headerValue(req.headers["urgency"]),
      topic: headerValue(req.headers["topic"]),
      plaintext,
      body,
      vapidPublicKey: vapid.publicKeyRaw,
      vapidSubject: vapid.claims.sub,
    });
    for (const wake of [...this.#waiters]) wake();
    // RFC 8030 §5: 201 Created, with the push message resource in Location.
    res.writeHead(201, { Location: `/message/${randomHex(8)}` }).end();
  }
}

/** The request body, or undefined when it is longer than `limit` (the rest is read and dropped). */
async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length <= limit) chunks.push(chunk);
  }
  return length > limit ? undefined : new Uint8Array(Buffer.concat(chunks));
}

function headerValue(value: string | string[] | undefined): string | null {
  return typeof value === "string" ? value : null;
}
