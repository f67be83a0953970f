// /device/v1/*: the Twofold Authenticator's API — activation, signed requests, pending pushes, live stream, answers.
import type { ServerResponse } from "node:http";
import { PassThrough } from "node:stream";
import { type Static, Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { TwofoldError } from "../../core/errors.ts";
import type { Device } from "../../core/model.ts";
import type { PushEvent, PushView } from "../../core/ports.ts";
import { jitter } from "../../runtime/jitter.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { clientGone, startEventStream } from "../event-stream-reply.ts";
import { PlainText } from "../validation.ts";

const Base64url = (min: number, max: number) =>
  T.String({ pattern: "^[A-Za-z0-9_-]*$", minLength: min, maxLength: max });

const Subscription = T.Object(
  {
    endpoint: T.String({ minLength: 10, maxLength: 2048, pattern: "^https?://" }),
    keys: T.Object({ p256dh: Base64url(87, 88), auth: Base64url(22, 24) }, { additionalProperties: false }),
    expirationTime: T.Optional(T.Union([T.Null(), T.Number()])),
  },
  { additionalProperties: false },
);

const Delivery = T.Union([
  T.Object({ type: T.Literal("webpush"), subscription: Subscription }, { additionalProperties: false }),
  T.Object({ type: T.Literal("none") }, { additionalProperties: false }),
]);
type Delivery = Static<typeof Delivery>;

const ActivateBody = T.Object(
  {
    token: T.String({ minLength: 3, maxLength: 200 }),
    name: PlainText({ maxLength: 200 }),
    publicKey: Base64url(87, 88),
    delivery: T.Optional(Delivery),
  },
  { additionalProperties: false },
);

const ActivateReply = T.Object(
  {
    deviceId: T.String(),
    username: T.String(),
    organization: T.String(),
    totp: T.Object(
      {
        secret: T.String(),
        algorithm: T.String(),
        digits: T.Integer(),
        period: T.Integer(),
        issuer: T.String(),
        account: T.String(),
      },
      { additionalProperties: false },
    ),
    vapidPublicKey: T.Union([T.String(), T.Null()]),
  },
  { additionalProperties: false },
);

const Push = T.Object(
  {
    txid: T.String(),
    application: T.String(),
    time: T.Number(),
    ip: T.Union([T.String(), T.Null()]),
    place: T.Union([T.String(), T.Null()]),
    info: T.Union([T.String(), T.Null()]),
    expiresAt: T.Number(),
    verified: T.Boolean(),
    codeDigits: T.Union([T.Integer(), T.Null()]),
  },
  { additionalProperties: false },
);

const AnswerBody = T.Object(
  {
    deviceId: T.String({ minLength: 1, maxLength: 64 }),
    decision: T.Union([T.Literal("approve"), T.Literal("deny"), T.Literal("fraud")]),
    code: T.Optional(T.String({ maxLength: 16 })),
    timestamp: T.Integer({ minimum: 0 }),
    signature: Base64url(1, 200),
  },
  { additionalProperties: false },
);

const TxidParams = T.Object(
  { txid: T.String({ pattern: "^[0-9a-f]{1,64}$" }) },
  { additionalProperties: false },
);
const Ok = T.Object({ ok: T.Literal(true) }, { additionalProperties: false });

/** The live stream's keep-alive: proxies and phones drop silent connections. */
const KEEP_ALIVE_MS = 15_000;
/** How often an open stream records its device as seen. */
const TOUCH_EVERY_MS = 60_000;

/** Open live streams per device: an app needs one (two while it reconnects); more is a fault or abuse. */
const MAX_STREAMS_PER_DEVICE = 4;

/** Raw request bodies of signed requests: the signature covers the bytes as sent. */
const rawBodies = new WeakMap<FastifyRequest, Buffer>();

export function registerDeviceRoutes(app: FastifyInstance, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const streams = new Set<ServerResponse>();
  const streamsPerDevice = new Map<string, number>();
  app.addHook("preClose", async () => {
    for (const raw of streams) raw.end();
  });

  const authenticate = (request: FastifyRequest): Promise<Device> =>
    services.authenticateDevice({
      authorization: request.headers.authorization,
      method: request.method,
      path: request.url,
      body: new Uint8Array(rawBodies.get(request) ?? Buffer.alloc(0)),
    });

  app.get(
    "/device/v1/vapid",
    {
      schema: {
        response: {
          200: T.Object({ publicKey: T.Union([T.String(), T.Null()]) }, { additionalProperties: false }),
        },
      },
    },
    async () => ({
      publicKey: runtime.vapidPublicKey,
    }),
  );

  app.post<{ Body: Static<typeof ActivateBody> }>(
    "/device/v1/activate",
    { schema: { body: ActivateBody, response: { 200: ActivateReply } } },
    async (request) => {
      const { token, name, publicKey, delivery } = request.body;
      const { device, user, totp } = await services.activateDevice({
        token,
        name,
        publicKey,
        ...(delivery && delivery.type !== "none" ? { delivery: checkDelivery(delivery, runtime) } : {}),
      });
      request.log.info({ deviceId: device.id, userId: user.id }, "device activated");
      return {
        deviceId: device.id,
        username: user.username,
        organization: runtime.config.organization.name,
        totp: { ...totp, secret: totp.secret.reveal() },
        vapidPublicKey: runtime.vapidPublicKey,
      };
    },
  );

  app.get(
    "/device/v1/pushes",
    { schema: { response: { 200: T.Object({ pushes: T.Array(Push) }, { additionalProperties: false }) } } },
    async (request) => {
      const device = await authenticate(request);
      return { pushes: await services.listDevicePushes(device) };
    },
  );

  app.put<{ Body: Delivery }>(
    "/device/v1/delivery",
    {
      schema: { body: Delivery, response: { 200: Ok } },
      preParsing: captureRawBody,
    },
    async (request) => {
      const device = await authenticate(request);
      const delivery = request.body;
      await services.updateDeviceDelivery(
        device,
        delivery.type === "none" ? null : checkDelivery(delivery, runtime),
      );
      return { ok: true as const };
    },
  );

  app.post<{ Params: Static<typeof TxidParams>; Body: Static<typeof AnswerBody> }>(
    "/device/v1/pushes/:txid/answer",
    {
      schema: {
        params: TxidParams,
        body: AnswerBody,
        response: {
          200: T.Object(
            { status: T.Union([T.Literal("approved"), T.Literal("denied"), T.Literal("fraud")]) },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const { deviceId, decision, code, timestamp, signature } = request.body;
      const { status } = await services.answerPush({
        txid: request.params.txid,
        deviceId,
        decision,
        ...(code ? { code } : {}),
        timestamp,
        signature,
      });
      if (status !== "approved" && status !== "denied" && status !== "fraud")
        throw new TwofoldError("ERR_INTERNAL", "unexpected push status");
      return { status };
    },
  );

  app.get("/device/v1/stream", { schema: { response: { 200: T.String() } } }, async (request, reply) => {
    const device = await authenticate(request);
    const open = streamsPerDevice.get(device.id) ?? 0;
    if (open >= MAX_STREAMS_PER_DEVICE)
      throw new TwofoldError("ERR_RATE_LIMITED", "too many open streams for this device");
    // Counted before the read, so opens racing for the last slot cannot all pass; every way out gives it back.
    streamsPerDevice.set(device.id, open + 1);
    const release = () => {
      const left = (streamsPerDevice.get(device.id) ?? 1) - 1;
      if (left > 0) streamsPerDevice.set(device.id, left);
      else streamsPerDevice.delete(device.id);
    };
    // Listening before the first read: a push started in between is not missed until the safety poll.
    const stream = new DeviceStream(reply.raw, device, runtime);
    let initial: PushView[];
    try {
      initial = await services.listDevicePushes(device);
    } catch (error) {
      stream.close();
      release();
      throw error;
    }
    if (clientGone(reply)) {
      // The app hung up during the read: its 'close' has fired already, so this stream would never be closed.
      stream.close();
      release();
      reply.hijack();
      return;
    }
    const raw = startEventStream(reply, { "x-request-id": request.id });
    streams.add(raw);
    stream.open(initial);
    raw.on("close", () => {
      streams.delete(raw);
      stream.close();
      release();
    });
  });
}

/**
 * One open app: sends each pending push once and each resolution of one it was sent. It reads the store when
 * woken — a push of its user started (`created`, on any node: in-process, NOTIFY, or another process's write
 * on the SQLite file) or events may have been missed (`resync`) — and otherwise only on a slow, jittered
 * safety poll (`push.streamSafetyPollSeconds`). An idle app so costs the database one read per safety period,
 * not one every two seconds. A resolution of a push it was sent needs no read at all.
 */
class DeviceStream {
  readonly #sent = new Set<string>();
  #keepAlive: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #opened = false;
  /** An event came between subscribing and opening: the first read may predate it. */
  #missed = false;
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  #refreshing: Promise<void> | undefined;
  #again = false;
  /** When this stream last recorded its device as seen (opening did, through listDevicePushes). */
  #touchedAt = 0;
  readonly #safetyPollMs: number;

  constructor(
    private readonly raw: ServerResponse,
    private readonly device: Device,
    private readonly runtime: ServiceRuntime,
  ) {
    this.#safetyPollMs = runtime.config.push.streamSafetyPollSeconds * 1000;
    this.#unsubscribe = runtime.services.watchDevicePushes(device, (event) => this.#onEvent(event));
  }

  open(initial: PushView[]): void {
    this.#opened = true;
    this.#touchedAt = this.runtime.clock.now();
    this.raw.write(": connected\n\n");
    for (const push of initial.reverse()) this.#sendPush(push);
    this.#keepAlive = setInterval(() => this.raw.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
    this.#schedulePoll();
    if (this.#missed) this.#refresh();
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe?.();
    clearInterval(this.#keepAlive);
    clearTimeout(this.#poll);
  }

  #schedulePoll(): void {
    if (this.#closed) return;
    this.#poll = setTimeout(() => {
      this.#refresh();
      this.#schedulePoll();
    }, jitter(this.#safetyPollMs));
  }

  #onEvent(event: PushEvent): void {
    if (!this.#opened) {
      this.#missed = true;
      return;
    }
    if (event.kind === "resolved") {
      if (this.#sent.delete(event.txid)) this.#write("resolved", { txid: event.txid, status: event.status });
      // A read in flight may still return it as pending: read once more after it. Otherwise a push this app
      // never saw needs no read.
      else if (this.#refreshing) this.#again = true;
      return;
    }
    this.#refresh();
  }

  /** Re-read pending pushes: send new ones, report ones that ended. One read at a time, coalesced. */
  #refresh(): void {
    if (this.#refreshing) {
      this.#again = true;
      return;
    }
    this.#refreshing = this.#read()
      .catch((err: unknown) => this.runtime.logger.debug({ err }, "device stream refresh failed"))
      .finally(() => {
        this.#refreshing = undefined;
        if (this.#again && !this.#closed) {
          this.#again = false;
          this.#refresh();
        }
      });
  }

  async #read(): Promise<void> {
    if (this.#closed) return;
    const { services, clock } = this.runtime;
    // An open stream means the device is there; recording that once a minute is enough for "last seen".
    const now = clock.now();
    const touch = now - this.#touchedAt >= TOUCH_EVERY_MS;
    if (touch) this.#touchedAt = now;
    const pending = await services.listDevicePushes(this.device, { touch });
    if (this.#closed) return;
    const open = new Set(pending.map((p) => p.txid));
    for (const txid of [...this.#sent]) {
      if (open.has(txid)) continue;
      this.#sent.delete(txid);
      const status = await services.getPushStatus(txid).catch(() => "expired" as const);
      this.#write("resolved", { txid, status });
    }
    for (const push of pending.reverse()) this.#sendPush(push);
  }

  #sendPush(push: PushView): void {
    if (this.#sent.has(push.txid)) return;
    this.#sent.add(push.txid);
    this.#write("push", push);
  }

  #write(event: string, data: object): void {
    if (this.#closed) return;
    this.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
}

/** A Web Push subscription the server can really use: a P-256 key, a 16-byte secret, an https endpoint. */
function checkDelivery(delivery: Extract<Delivery, { type: "webpush" }>, runtime: ServiceRuntime): Delivery {
  const { endpoint, keys } = delivery.subscription;
  const issues: { path: string; message: string }[] = [];
  const p256dh = Buffer.from(keys.p256dh, "base64url");
  if (p256dh.length !== 65 || p256dh[0] !== 4)
    issues.push({
      path: "body.delivery.subscription.keys.p256dh",
      message: "not an uncompressed P-256 point",
    });
  if (Buffer.from(keys.auth, "base64url").length !== 16)
    issues.push({ path: "body.delivery.subscription.keys.auth", message: "must be 16 bytes" });
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    issues.push({ path: "body.delivery.subscription.endpoint", message: "not a URL" });
  }
  const problem = url ? runtime.checkWebPushEndpoint(endpoint) : undefined;
  if (problem) issues.push({ path: "body.delivery.subscription.endpoint", message: problem });
  if (issues.length) throw new TwofoldError("ERR_VALIDATION", "The request is not valid.", { issues });
  return { type: "webpush", subscription: { endpoint, keys } };
}

/** Keep the bytes of a signed request's body (the signature covers them) and hand Fastify a copy to parse. */
async function captureRawBody(request: FastifyRequest, _reply: unknown, payload: NodeJS.ReadableStream) {
  const chunks: Buffer[] = [];
  let size = 0;
  const limit = request.routeOptions.bodyLimit ?? 1024 * 1024;
  for await (const chunk of payload) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) throw new TwofoldError("ERR_PAYLOAD_TOO_LARGE", "The request body is too large.");
    chunks.push(buffer);
  }
  const body = Buffer.concat(chunks);
  rawBodies.set(request, body);
  const copy = Object.assign(new PassThrough(), { receivedEncodedLength: body.length });
  copy.end(body);
  return copy;
}
