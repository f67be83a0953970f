// E-mail through an SMTP server with nodemailer (STARTTLS or TLS, authentication, a small connection pool).
import type { Transporter } from "nodemailer";
import { type MailMessage, type MailTransport, MessageSendError } from "../../core/ports.ts";

export interface SMTPMailOptions {
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  user: string;
  password: string;
  from: string;
  timeoutMs: number;
  log: { warn(fields: Record<string, unknown>, message: string): void };
}

/** Errors raised before the server could have taken the message: another attempt may send it. */
const NOT_SENT = new Set(["ECONNECTION", "EDNS", "EAUTH", "ETLS", "EENVELOPE", "ENOAUTH"]);

export class SMTPMailTransport implements MailTransport {
  readonly name = "smtp";
  readonly #options: SMTPMailOptions;
  readonly #from: string;
  /** Made on the first message: nodemailer is loaded then, not when the server starts. */
  #transport: Promise<Transporter> | undefined;

  constructor(o: SMTPMailOptions) {
    this.#from = o.from;
    this.#options = o;
  }

  async #connect(): Promise<Transporter> {
    const o = this.#options;
    const { default: nodemailer } = await import("nodemailer");
    const transport = nodemailer.createTransport({
      host: o.host,
      port: o.port,
      secure: o.secure,
      requireTLS: o.requireTLS,
      ...(o.user ? { auth: { user: o.user, pass: o.password } } : {}),
      pool: true,
      maxConnections: 2,
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
    });
    // A pooled connection that fails between messages must not crash the process.
    transport.on("error", (error: Error) => o.log.warn({ err: error.message }, "SMTP connection error"));
    return transport;
  }

  async send(message: MailMessage, signal: AbortSignal): Promise<{ gatewayMessageId: string | null }> {
    if (signal.aborted) throw new MessageSendError("no time left to send", true);
    try {
      this.#transport ??= this.#connect();
      const info = await (await this.#transport).sendMail({
        from: this.#from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        headers: { "X-Twofold-Message": message.reference },
      });
      return { gatewayMessageId: typeof info.messageId === "string" ? info.messageId : null };
    } catch (error) {
      const e = error as { code?: string; responseCode?: number; message?: string };
      // An SMTP error reply is the server saying no; a connection that failed before the envelope sent nothing.
      const definite = typeof e.responseCode === "number" || NOT_SENT.has(e.code ?? "");
      throw new MessageSendError(
        `SMTP ${e.code ?? "error"}${e.responseCode ? ` ${e.responseCode}` : ""}`,
        definite,
      );
    }
  }

  async close(): Promise<void> {
    (await this.#transport)?.close();
  }
}
