// The demo's inbox (`npm start` only): the SMS gateway and mail transport of the demo organisation deliver here, in memory, so a newcomer reads the text or e-mail on the start page without a real gateway.
import { maskPhone } from "../../core/mask-phone.ts";
import type { Clock, SMSGateway, SMSMessage } from "../../core/ports.ts";

export interface InboxEntry {
  /** The outbox message id. */
  id: string;
  channel: "sms" | "email";
  /** The recipient as the page shows it: a number masked to its last four digits, an address to its first letter. */
  to: string;
  subject: string | null;
  text: string;
  at: number;
}

/** An e-mail address with the local part masked past its first character (`a****@demo.twofold.test`). */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf("@");
  if (at <= 0) return "*".repeat(address.length);
  return `${address[0]}${"*".repeat(Math.max(at - 1, 1))}${address.slice(at)}`;
}

/** The last `capacity` messages, newest first; `version` tells a polling page whether anything arrived. */
export class DemoInbox {
  readonly #entries: InboxEntry[] = [];
  readonly #clock: Clock;
  readonly capacity: number;
  /** Grows by one per message: a polling page redraws only when it changed. */
  version = 0;

  constructor(clock: Clock, capacity = 100) {
    this.#clock = clock;
    this.capacity = capacity;
  }

  add(entry: Omit<InboxEntry, "at">): void {
    this.#entries.unshift({ ...entry, at: this.#clock.now() });
    if (this.#entries.length > this.capacity) this.#entries.length = this.capacity;
    this.version++;
  }

  /** Newest first. */
  list(): readonly InboxEntry[] {
    return this.#entries;
  }

  /** The newest text to this number (E.164, matched masked): the demo's set-up reads its own verification codes. */
  latestTextTo(number: string): string | undefined {
    const masked = maskPhone(number);
    return this.#entries.find((e) => e.channel === "sms" && e.to === masked)?.text;
  }
}

/** The demo's SMS gateway: every text lands in the inbox at once. */
export class DemoInboxSMSGateway implements SMSGateway {
  readonly name = "demo-inbox";
  readonly #inbox: DemoInbox;

  constructor(inbox: DemoInbox) {
    this.#inbox = inbox;
  }

  async send(message: SMSMessage, _signal?: AbortSignal): Promise<{ gatewayMessageId: string | null }> {
    this.#inbox.add({
      id: message.reference,
      channel: "sms",
      to: maskPhone(message.to),
      subject: null,
      text: message.text,
    });
    return { gatewayMessageId: message.reference };
  }
}
