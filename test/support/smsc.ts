// A local SMSC (the `smpp` package in server mode) that records submit_sm and sends delivery receipts, and can go deaf, silent or never bind; and a local HTTP SMS provider (Twilio's REST shape).
import { once } from "node:events";
import { createServer, type Server as HTTPServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import smpp from "smpp";

export interface Submitted {
  to: string;
  from: string;
  text: string;
  messageId: string;
  registeredDelivery: number;
  at: number;
}

/**
 * An SMSC on 127.0.0.1 (port 0): binds any ESME with the configured credentials, answers submit_sm with a message
 * id, and can hold answers (to test a sender that stops mid-send), refuse submits, leave binds unanswered, fall
 * silent on its open sessions, send a PDU its peer cannot parse, or be stopped and started on the same port
 * (gateway down and back).
 */
export class TestSMSC {
  readonly submitted: Submitted[] = [];
  readonly binds: string[] = [];
  /** Every bind_transceiver received, answered or not. */
  bindRequests = 0;
  /** While cleared, bind_transceiver gets no answer (a proxy that takes TCP while the SMSC behind it is down). */
  answerBinds = true;
  /** How long a bind's answer takes (a distant SMSC over TLS, one that checks credentials slowly). */
  bindDelayMs = 0;
  #server: smpp.Server | undefined;
  #port = 0;
  #next = 1;
  #waiters: Array<() => void> = [];
  /** While set, submit_sm gets no answer (the held PDUs are answered, or dropped, later). */
  holdAnswers = false;
  /** While set, submit_sm is answered with ESME_RSUBMITFAIL. */
  refuseSubmits = false;
  #held: Array<() => void> = [];
  readonly sessions = new Set<smpp.Session>();
  /** Sessions that answer nothing any more (see `silence`). */
  readonly #silent = new WeakSet<smpp.Session>();

  constructor(
    readonly systemId = "twofold",
    readonly password = "secret",
  ) {}

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `smpp://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<void> {
    const server = smpp.createServer((session) => {
      this.sessions.add(session);
      session.on("error", () => undefined);
      session.on("close", () => this.sessions.delete(session));
      session.on("bind_transceiver", (pdu: smpp.PDU) => {
        this.bindRequests++;
        if (!this.answerBinds || this.#silent.has(session)) return;
        const ok = pdu["system_id"] === this.systemId && pdu["password"] === this.password;
        const answer = () => {
          session.send(pdu.response({ command_status: ok ? 0 : smpp.ESME_RBINDFAIL }));
          if (ok) this.binds.push(String(pdu["system_id"]));
          else session.close();
        };
        if (this.bindDelayMs > 0) setTimeout(answer, this.bindDelayMs);
        else answer();
      });
      session.on("enquire_link", (pdu: smpp.PDU) => {
        if (!this.#silent.has(session)) session.send(pdu.response());
      });
      session.on("unbind", (pdu: smpp.PDU) => {
        if (this.#silent.has(session)) return;
        session.send(pdu.response());
        session.close();
      });
      session.on("submit_sm", (pdu: smpp.PDU) => {
        if (this.#silent.has(session)) return;
        const messageId = `M${this.#next++}`;
        const short = pdu["short_message"] as { message?: string } | undefined;
        const answer = () => {
          if (this.refuseSubmits) {
            session.send(pdu.response({ command_status: smpp.ESME_RSUBMITFAIL }));
            return;
          }
          this.submitted.push({
            to: String(pdu["destination_addr"]),
            from: String(pdu["source_addr"]),
            text: short?.message ?? "",
            messageId,
            registeredDelivery: Number(pdu["registered_delivery"] ?? 0),
            at: Date.now(),
          });
          session.send(pdu.response({ message_id: messageId }));
          for (const wake of this.#waiters.splice(0)) wake();
        };
        if (this.holdAnswers) this.#held.push(answer);
        else answer();
      });
    });
    server.on("error", () => undefined);
    server.listen(this.#port, "127.0.0.1");
    await once(server, "listening");
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Close every session and stop listening (the gateway is down). */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * The open sessions answer nothing from now on, while their TCP connections stay up (a hung SMSC, or a flow a
   * NAT dropped without a reset); later sessions are answered as usual.
   */
  silence(): void {
    for (const s of this.sessions) this.#silent.add(s);
  }

  /**
   * Send each open session a PDU header announcing 20000 bytes, over the `smpp` library's 16384 limit: the
   * library reports an error and stops reading that connection.
   */
  sendMalformedPDU(): void {
    const header = Buffer.alloc(16);
    header.writeUInt32BE(20_000, 0);
    for (const s of this.sessions) s.socket.write(header);
  }

  /** Answer the held submits (`record`: as accepted) or forget them. */
  releaseHeld(): void {
    for (const answer of this.#held.splice(0)) answer();
  }

  get heldCount(): number {
    return this.#held.length;
  }

  /** Wait until at least `n` messages were accepted (deadline `ms`). */
  async waitForSubmits(n: number, ms = 30_000): Promise<Submitted[]> {
    const deadline = Date.now() + ms;
    while (this.submitted.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the SMSC got ${this.submitted.length} of ${n} messages in ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.submitted;
  }

  /** Send a delivery receipt (SMPP 3.4 Appendix B) for an accepted message on every bound session. */
  sendReceipt(messageId: string, stat: "DELIVRD" | "UNDELIV" = "DELIVRD"): void {
    const text = `id:${messageId} sub:001 dlvrd:${stat === "DELIVRD" ? "001" : "000"} submit date:2611221200 done date:2611221200 stat:${stat} err:000 text:`;
    for (const s of this.sessions)
      s.deliver_sm({
        source_addr: "85291234567",
        destination_addr: "Twofold",
        esm_class: 0x04,
        short_message: text,
        receipted_message_id: messageId,
        message_state: stat === "DELIVRD" ? 2 : 5,
      });
  }
}

export interface ProviderRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  form: Record<string, string>;
}

/**
 * An HTTP SMS provider in Twilio's shape: `POST /2010-04-01/Accounts/{sid}/Messages.json`, form body `To`, `From`,
 * `Body`, HTTP Basic auth, answered 201 with `{"sid": "SM…"}`.
 */
export class TestHTTPProvider {
  readonly requests: ProviderRequest[] = [];
  #server: HTTPServer | undefined;
  status = 201;

  async start(): Promise<string> {
    this.#server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        this.requests.push({
          method: req.method ?? "",
          path: req.url ?? "",
          authorization: req.headers.authorization,
          contentType: req.headers["content-type"],
          form: Object.fromEntries(new URLSearchParams(body)),
        });
        res.writeHead(this.status, { "content-type": "application/json" });
        res.end(JSON.stringify({ sid: `SM${this.requests.length}`, status: "queued" }));
      });
    });
    this.#server.listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The code in a text (`… passcode: 123456. …`, `… 登入驗證碼：123456，…`). */
export function codeIn(text: string): string {
  const m = /(?:: |：)([0-9]{6,8})[.，]/.exec(text);
  if (!m) throw new Error("no code in the text");
  return m[1]!;
}
