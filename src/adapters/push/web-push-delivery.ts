// Delivers new pushes to devices' Web Push subscriptions in the background; forgets subscriptions the service says are gone.
import type { Keyring } from "../../core/crypto/keyring.ts";
import type { Device } from "../../core/model.ts";
import type { PushDelivery, PushView, Store } from "../../core/ports.ts";
import { deliverySealContext } from "../../core/use-cases/push.ts";
import type { PushSubscription, WebPushSender } from "./web-push.ts";

/** The sealed `delivery` a device registers: how it is reached. */
export interface DeviceDelivery {
  type: "webpush";
  subscription: PushSubscription;
}

/** Application text is cut to this in the encrypted message (a push message body is at most 4 KB). */
export const WEB_PUSH_INFO_BYTES = 1000;

export interface DeliveryLog {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface WebPushDeliveryOptions {
  sender: WebPushSender;
  keyring: Keyring;
  store: Store;
  log: DeliveryLog;
  /** Messages undelivered after this long are dropped by the push service (the push has expired by then). */
  ttlSeconds: number;
}

export class WebPushDelivery implements PushDelivery {
  readonly #o: WebPushDeliveryOptions;
  /** Sends in flight, so shutdown can wait for them. */
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: WebPushDeliveryOptions) {
    this.#o = options;
  }

  deliver(push: PushView, devices: readonly Device[]): void {
    for (const device of devices) {
      if (device.deliverySealed === null) continue;
      const sending = this.#send(push, device).finally(() => this.#inFlight.delete(sending));
      this.#inFlight.add(sending);
    }
  }

  /** Wait for sends in flight (tests, graceful shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  async #send(push: PushView, device: Device): Promise<void> {
    let delivery: DeviceDelivery;
    try {
      const opened = this.#o.keyring.open(device.deliverySealed!, deliverySealContext(device.id));
      delivery = JSON.parse(Buffer.from(opened).toString("utf8")) as DeviceDelivery;
    } catch (error) {
      this.#o.log.warn({ deviceId: device.id, err: error }, "cannot open the device's delivery data");
      return;
    }
    if (delivery.type !== "webpush") return;
    const message = { type: "push", push: { ...push, info: cutUTF8(push.info, WEB_PUSH_INFO_BYTES) } };
    try {
      const result = await this.#o.sender.send(delivery.subscription, message, {
        ttlSeconds: this.#o.ttlSeconds,
        urgency: "high",
        topic: push.txid.slice(0, 32),
      });
      if (result.gone) {
        await this.#o.store.setDeviceDelivery(device.id, null);
        this.#o.log.debug({ deviceId: device.id }, "Web Push subscription gone; removed");
      } else if (result.status >= 300) {
        this.#o.log.warn({ deviceId: device.id, status: result.status }, "push service refused a message");
      }
    } catch (error) {
      this.#o.log.warn({ deviceId: device.id, err: error }, "Web Push delivery failed");
    }
  }
}

/** At most `bytes` of UTF-8, never splitting a character. */
export function cutUTF8(text: string | null, bytes: number): string | null {
  if (text === null) return null;
  const encoded = Buffer.from(text, "utf8");
  if (encoded.length <= bytes) return text;
  let end = Math.max(0, bytes - 3); // room for the ellipsis
  // Step back over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && (encoded[end]! & 0xc0) === 0x80) end--;
  return `${encoded.subarray(0, end).toString("utf8")}…`;
}
