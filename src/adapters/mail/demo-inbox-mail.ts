// The demo's mail transport (`npm start` only): every e-mail lands in the demo inbox on the start page.
import type { MailMessage, MailTransport } from "../../core/ports.ts";
import { type DemoInbox, maskAddress } from "../sms/demo-inbox.ts";

export class DemoInboxMailTransport implements MailTransport {
  readonly name = "demo-inbox";
  readonly #inbox: DemoInbox;

  constructor(inbox: DemoInbox) {
    this.#inbox = inbox;
  }

  async send(message: MailMessage, _signal?: AbortSignal): Promise<{ gatewayMessageId: string | null }> {
    this.#inbox.add({
      id: message.reference,
      channel: "email",
      to: maskAddress(message.to),
      subject: message.subject,
      text: message.text,
    });
    return { gatewayMessageId: message.reference };
  }

  async close(): Promise<void> {}
}
