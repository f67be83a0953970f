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

/** The last `capacity` messages, newest first; listeners hear each new one (the start page's live view). */
export class DemoInbox {
  readonly #entries: InboxEntry[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #clock: Clock;
  readonly capacity: number;
  /** Grows by one per message: a page that has seen version n asks for what came after. */
  version = 0;

  constructor(clock: Clock, capacity = 100) {
    this.#clock = clock;
    this.capacity = capacity;
  }

  add(entry: Omit<InboxEntry, "at">): void {
    this.#entries.unshift({ ...entry, at: this.#clock.now() });
    if (this.#entries.length > this.capacity) this.#entries.length = this.capacity;
    this.version++;
    for (const listener of this.#listeners) listener();
  }

  /** Newest first. */
  list(): readonly InboxEntry[] {
    return this.#entries;
  }

  /** The newest text sent to this number (E.164), unmasked: the demo's set-up reads its own verification codes. */
  latestTextTo(number: string): string | undefined {
    const masked = maskPhone(number);
    return this.#entries.find((e) => e.channel === "sms" && e.to === masked)?.text;
  }

  /** Wait until the version passes `version` or `ms` pass; resolves with the version then. */
  waitForChange(version: number, ms: number, signal?: AbortSignal): Promise<number> {
    if (this.version !== version) return Promise.resolve(this.version);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(done);
        signal?.removeEventListener("abort", done);
        resolve(this.version);
      };
      const timer = setTimeout(done, ms);
      this.#listeners.add(done);
      signal?.addEventListener("abort", done);
    });
  }
}

/** The demo's SMS gateway: every text lands in the inbox at once. */
export class DemoInboxSMSGateway implements SMSGateway {
  readonly name = "demo-inbox";
  readonly #inbox: DemoInbox;

  constructor(inbox: DemoInbox) {
    this.#inbox = inbox;
  }

  async send(message: SMSMessage): Promise<{ gatewayMessageId: string | null }> {
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
