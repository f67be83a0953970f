// Builds the SMS gateways and the mail transport from configuration (the demo's inbox in `serve --demo`), and reads HTTP gateways' delivery receipts; the outbox runs as a job of the node's one scheduler (housekeeping.ts).
import { DemoInboxMailTransport } from "../adapters/mail/demo-inbox-mail.ts";
import { SMTPMailTransport } from "../adapters/mail/smtp-mail.ts";
import { type DemoInbox, DemoInboxSMSGateway } from "../adapters/sms/demo-inbox.ts";
import {
  HTTPSMSSender,
  type ReceiptReading,
  type ReceiptRequest,
  readHTTPReceipt,
} from "../adapters/sms/http-gateway.ts";
import { SMPPSMSSender } from "../adapters/sms/smpp-gateway.ts";
import type { Config } from "../config/schema.ts";
import { randomHex } from "../core/crypto/index.ts";
import type { Messaging } from "../core/deps.ts";
import type { DeliveryReceipt, MailTransport, SMSGateway } from "../core/ports.ts";
import type { Logger } from "./logger.ts";

export interface MessagingSetup {
  messaging: Messaging | undefined;
  gateways: SMSGateway[];
  /**
   * Read an HTTP gateway's status callback (authenticated, parsed), or undefined when no configured HTTP gateway has
   * that name.
   */
  readReceipt(gateway: string, request: ReceiptRequest): ReceiptReading | undefined;
  close(): Promise<void>;
}

/**
 * The configured SMS gateways in order, as one Messaging for the core. `onReceipt` is bound late (the services
 * that record receipts are built with this). Outbox events are logged by id, channel, kind and gateway: never a
 * number, an address or a text (N1).
 */
export function createMessaging(
  config: Readonly<Config>,
  logger: Logger,
  nodeName: string,
  onReceipt: (receipt: DeliveryReceipt) => void,
  extraGateways: readonly SMSGateway[] = [],
  demoInbox?: DemoInbox,
): MessagingSetup {
  const log = logger.child({ component: "outbox" });
  const gateways: SMSGateway[] = config.sms.gateways.map((g) =>
    g.type === "smpp"
      ? new SMPPSMSSender({
          name: g.name,
          url: g.url,
          systemId: g.systemId,
          password: g.password,
          systemType: g.systemType,
          sender: config.sms.sender,
          sourceAddrTon: g.sourceAddrTon,
          sourceAddrNpi: g.sourceAddrNpi,
          enquireLinkMs: g.enquireLinkSeconds * 1000,
          submitTimeoutMs: g.submitTimeoutMs,
          bindTimeoutMs: g.bindTimeoutSeconds * 1000,
          reconnectMaxMs: g.reconnectMaxSeconds * 1000,
          deliveryReceipts: g.deliveryReceipts,
          onReceipt,
          log: logger.child({ component: "smpp" }),
        })
      : new HTTPSMSSender({
          name: g.name,
          url: g.url,
          method: g.method,
          headers: g.headers,
          body: g.body,
          fields: g.fields,
          successStatus: g.successStatus,
          messageIdPath: g.messageIdPath,
          timeoutMs: g.timeoutMs,
          sender: config.sms.sender,
        }),
  );
  gateways.push(...extraGateways);
  // The demo's inbox stands in for a gateway and an SMTP server the demo does not have (demo mode only).
  const inbox = config.mode === "demo" ? demoInbox : undefined;
  if (inbox && gateways.length === 0) gateways.push(new DemoInboxSMSGateway(inbox));
  const smtp = config.mail.smtp;
  const mail: (MailTransport & { close(): Promise<void> }) | undefined = smtp.host
    ? new SMTPMailTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        requireTLS: smtp.requireTLS,
        user: smtp.user,
        password: smtp.password,
        from: config.mail.from,
        timeoutMs: smtp.timeoutMs,
        log: logger.child({ component: "smtp" }),
      })
    : inbox
      ? new DemoInboxMailTransport(inbox)
      : undefined;
  const readReceipt = (name: string, request: ReceiptRequest): ReceiptReading | undefined => {
    const g = config.sms.gateways.find((c) => c.name === name);
    if (g?.type !== "http") return undefined;
    return readHTTPReceipt({ gateway: g.name, ...g.receipts }, request);
  };
  if (gateways.length === 0 && !mail)
    return { messaging: undefined, gateways, readReceipt, close: async () => {} };
  const messaging: Messaging = {
    sms: gateways,
    ...(mail ? { mail } : {}),
    mailLanguage: config.mail.language,
    // Unique per process: a restarted node does not mistake its predecessor's leases for its own.
    owner: `${nodeName}/${process.pid}/${randomHex(4)}`,
    sender: config.sms.sender,
    sendDeadlineMs: config.sms.sendDeadlineMs,
    outbox: config.sms.outbox,
    onEvent: (e) => {
      const level = e.event === "failed" || e.event === "unknown" ? "warn" : "info";
      log[level](e, `outbox message ${e.event}`);
    },
  };
  return {
    messaging,
    gateways,
    readReceipt,
    close: async () => {
      await Promise.all(gateways.map((g) => (g as { close?: () => Promise<void> }).close?.()));
      await mail?.close();
    },
  };
}
