// SMS through an SMSC over SMPP 3.4 as an ESME: bind_transceiver, submit_sm, delivery receipts (deliver_sm), enquire_link, reconnect with back-off.
import type smpp from "smpp";
import {
  type DeliveryReceipt,
  MessageSendError,
  type SMSGateway,
  type SMSMessage,
} from "../../core/ports.ts";

export interface SMPPGatewayOptions {
  name: string;
  /** smpp://host:port, or ssmpp:// for TLS. */
  url: string;
  systemId: string;
  password: string;
  systemType: string;
  /** The sender shown on the phone (source_addr). */
  sender: string;
  sourceAddrTon: number;
  sourceAddrNpi: number;
  enquireLinkMs: number;
  submitTimeoutMs: number;
  /** Longest the connection and bind may take before the attempt is dropped (default 15 s). */
  bindTimeoutMs?: number;
  reconnectMaxMs: number;
  deliveryReceipts: boolean;
  onReceipt?: (receipt: DeliveryReceipt) => void;
  log: {
    info(fields: Record<string, unknown>, message: string): void;
    warn(fields: Record<string, unknown>, message: string): void;
  };
}

/** SMPP 3.4 §5.2.28 message_state values that end a message's life. */
const FINAL_STATES: Record<number, { delivered: boolean; detail: string }> = {
  2: { delivered: true, detail: "DELIVRD" },
  3: { delivered: false, detail: "EXPIRED" },
  4: { delivered: false, detail: "DELETED" },
  5: { delivered: false, detail: "UNDELIV" },
  8: { delivered: false, detail: "REJECTD" },
};

/**
 * A delivery receipt from a deliver_sm: the message id from the `receipted_message_id` TLV or the receipt text
 * (`id:… sub:… dlvrd:… stat:DELIVRD …`, SMPP 3.4 Appendix B), the state from `message_state` or `stat:`.
 */
export function parseDeliveryReceipt(
  gateway: string,
  pdu: Record<string, unknown>,
): DeliveryReceipt | undefined {
  const esmClass = typeof pdu["esm_class"] === "number" ? pdu["esm_class"] : 0;
  const short = pdu["short_message"] as { message?: unknown } | undefined;
  const text = typeof short?.message === "string" ? short.message : "";
  const isReceipt = (esmClass & 0x3c) === 0x04 || /\bstat:/i.test(text);
  if (!isReceipt) return undefined;
  const id =
    typeof pdu["receipted_message_id"] === "string"
      ? pdu["receipted_message_id"]
      : /\bid:(\S+)/i.exec(text)?.[1];
  if (!id) return undefined;
  const state = typeof pdu["message_state"] === "number" ? FINAL_STATES[pdu["message_state"]] : undefined;
  const stat = /\bstat:(\w+)/i.exec(text)?.[1]?.toUpperCase();
  if (state) return { gateway, gatewayMessageId: id, delivered: state.delivered, detail: state.detail };
  if (!stat || stat === "ENROUTE" || stat === "ACCEPTD") return undefined;
  return { gateway, gatewayMessageId: id, delivered: stat === "DELIVRD", detail: stat };
}

/** The SMPP library, loaded when the first gateway connects: a server without SMPP gateways never loads it. */
let library: typeof smpp | undefined;
let loading: Promise<typeof smpp> | undefined;
function loadSMPP(): Promise<typeof smpp> {
  loading ??= import("smpp").then((m) => {
    library = m.default;
    return library;
  });
  return loading;
}

/** submit_sm in a row without an answer in time after which the session is dropped and bound afresh. */
const UNANSWERED_SUBMITS = 3;

/**
 * One bound transceiver session, kept open: it reconnects with a doubling back-off (1 s up to `reconnectMaxMs`)
 * whenever it drops, and keeps the link alive with enquire_link. A session is dropped (and so replaced) when it
 * does not connect and bind within `bindTimeoutMs`, when the SMSC sends nothing for two enquire_link periods,
 * on any session error, or when UNANSWERED_SUBMITS submit_sm in a row get no answer in time (an SMSC that answers
 * its keep-alives but no longer takes messages). A send while not bound fails at once and for certain (the outbox
 * then tries the next gateway); a submit_sm with no answer within `submitTimeoutMs`, or a session lost after the
 * submit was written, may have gone out and is reported as such (never sent again).
 */
export class SMPPSMSSender implements SMSGateway {
  readonly name: string;
  readonly #o: SMPPGatewayOptions;
  #session: smpp.Session | null = null;
  #bound = false;
  #closed = false;
  /** A connection attempt is under way (not yet bound, not yet failed). */
  #connecting = false;
  readonly #boundWaiters = new Set<() => void>();
  #delayMs = 1000;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The current session's deadline to connect and bind. */
  #bindTimer: ReturnType<typeof setTimeout> | undefined;
  /** The current session's enquire_link and silence check, every `enquireLinkMs` while bound. */
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** When the current session last received a PDU (performance.now()). */
  #lastHeard = 0;
  /** Submits written and not yet answered: failed as "may have gone out" when the session drops. */
  readonly #inFlight = new Set<(error: MessageSendError) => void>();
  /** submit_sm on the current session that got no answer in time since its last answered one. */
  #unanswered = 0;

  constructor(options: SMPPGatewayOptions) {
    this.name = options.name;
    this.#o = options;
    this.#connect();
  }

  /** Whether the session is bound (readiness, tests). */
  get bound(): boolean {
    return this.#bound;
  }

  get up(): boolean {
    return this.#bound;
  }

  #connect(): void {
    if (this.#closed) return;
    if (!library) {
      // First connection in this process: load the library, then connect (a send meanwhile waits as for a bind).
      this.#connecting = true;
      loadSMPP().then(
        () => this.#connect(),
        (error: unknown) => {
          this.#connecting = false;
          this.#o.log.warn(
            { gateway: this.#o.name, err: (error as Error).message },
            "SMPP library not loaded",
          );
        },
      );
      return;
    }
    const o = this.#o;
    // No auto_enquire_link_period: the library sends those without reading the answers, so a silent SMSC would
    // look alive for ever. The keep-alive below checks that the SMSC is still talking.
    const session = library.connect({ url: o.url });
    this.#stopTimers();
    this.#session = session;
    this.#connecting = true;
    // A load balancer that accepts TCP while the SMSC behind it is down, or an SMSC hung mid-bind, would
    // otherwise hold this attempt open for ever: no close, so no reconnect.
    const bindTimeoutMs = o.bindTimeoutMs ?? 15_000;
    this.#bindTimer = setTimeout(
      () => this.#drop(session, { timeoutMs: bindTimeoutMs }, "SMPP bind not answered in time; dropping"),
      bindTimeoutMs,
    );
    this.#bindTimer.unref?.();
    session.on("error", (error: Error) => {
      o.log.warn({ gateway: o.name, err: error.message }, "SMPP session error");
      // The library stops reading a session after a PDU it cannot parse: the session would stay bound but deaf.
      this.#drop(session);
    });
    session.on("pdu", () => {
      if (this.#session === session) this.#lastHeard = performance.now();
    });
    session.on(o.url.startsWith("ssmpp:") ? "secureConnect" : "connect", () => {
      session.bind_transceiver(
        { system_id: o.systemId, password: o.password, system_type: o.systemType, interface_version: 0x34 },
        (pdu) => {
          if (pdu.command_status === 0) {
            clearTimeout(this.#bindTimer);
            this.#bindTimer = undefined;
            this.#bound = true;
            this.#connecting = false;
            this.#delayMs = 1000;
            this.#unanswered = 0;
            this.#keepAlive = setInterval(() => this.#checkLink(session), o.enquireLinkMs);
            this.#keepAlive.unref?.();
            for (const wake of [...this.#boundWaiters]) wake();
            o.log.info({ gateway: o.name }, "SMPP bound");
          } else {
            o.log.warn({ gateway: o.name, status: pdu.command_status }, "SMPP bind refused");
            session.close();
          }
        },
      );
    });
    session.on("close", () => {
      if (this.#session === session) {
        this.#stopTimers();
        this.#bound = false;
        this.#connecting = false;
        this.#session = null;
        for (const wake of [...this.#boundWaiters]) wake();
      }
      for (const fail of [...this.#inFlight])
        fail(new MessageSendError("the SMPP session closed before submit_sm was answered", false));
      if (!this.#closed)
        o.log.warn({ gateway: o.name, retryInMs: this.#delayMs }, "SMPP session closed; reconnecting");
      this.#scheduleReconnect();
    });
    session.on("enquire_link", (pdu: smpp.PDU) => session.send(pdu.response()));
    session.on("unbind", (pdu: smpp.PDU) => {
      this.#bound = false;
      session.send(pdu.response());
      session.close();
    });
    session.on("deliver_sm", (pdu: smpp.PDU) => {
      session.send(pdu.response());
      const receipt = parseDeliveryReceipt(o.name, pdu);
      if (receipt) o.onReceipt?.(receipt);
    });
  }

  /**
   * Every `enquireLinkMs`: an enquire_link, unless the SMSC has sent nothing (no answer, no PDU of its own) for
   * two periods, when the session is dropped. Writes to a peer that is gone still succeed for minutes (until TCP
   * gives up), so only an answer shows that the link works.
   */
  #checkLink(session: smpp.Session): void {
    const silentMs = performance.now() - this.#lastHeard;
    if (silentMs > 2 * this.#o.enquireLinkMs)
      this.#drop(session, { silentMs: Math.round(silentMs) }, "SMPP link silent; dropping");
    else session.enquire_link({});
  }

  /** Destroy the current session: its 'close' fails the submits in flight and reconnects with back-off. */
  #drop(session: smpp.Session, fields?: Record<string, unknown>, message?: string): void {
    if (this.#session !== session) return;
    if (message) this.#o.log.warn({ gateway: this.#o.name, ...fields }, message);
    this.#stopTimers();
    this.#bound = false;
    session.destroy();
  }

  #stopTimers(): void {
    clearTimeout(this.#bindTimer);
    clearInterval(this.#keepAlive);
    this.#bindTimer = undefined;
    this.#keepAlive = undefined;
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#timer) return;
    const delay = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#o.reconnectMaxMs);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect();
    }, delay);
    this.#timer.unref?.();
  }

  /** While a connection attempt is under way (a process that just started), wait for its bind a little. */
  async #waitForBind(ms: number): Promise<void> {
    if (this.#bound || !this.#connecting) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#boundWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#boundWaiters.add(wake);
    });
  }

  async send(message: SMSMessage, signal: AbortSignal): Promise<{ gatewayMessageId: string | null }> {
    await this.#waitForBind(Math.min(1500, this.#o.submitTimeoutMs));
    return this.#submit(message, signal);
  }

  #submit(message: SMSMessage, signal: AbortSignal): Promise<{ gatewayMessageId: string | null }> {
    const session = this.#session;
    if (!this.#bound || !session)
      return Promise.reject(new MessageSendError("the SMPP session is not bound", true));
    if (signal.aborted) return Promise.reject(new MessageSendError("no time left to send", true));
    const o = this.#o;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: MessageSendError | null, id?: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#inFlight.delete(fail);
        if (error) reject(error);
        else resolve({ gatewayMessageId: id ?? null });
      };
      const fail = (error: MessageSendError) => finish(error);
      const onAbort = () => finish(new MessageSendError("gave up waiting for submit_sm_resp", false));
      const timer = setTimeout(() => {
        finish(new MessageSendError(`no submit_sm_resp within ${o.submitTimeoutMs} ms`, false));
        // Keep-alives answered, messages not: after a few in a row, a new session (and meanwhile the next gateway).
        if (this.#session === session && ++this.#unanswered >= UNANSWERED_SUBMITS)
          this.#drop(session, { unanswered: this.#unanswered }, "SMPP submits unanswered; dropping");
      }, o.submitTimeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#inFlight.add(fail);
      const written = session.submit_sm(
        {
          source_addr: o.sender,
          source_addr_ton: o.sourceAddrTon,
          source_addr_npi: o.sourceAddrNpi,
          // International number, ISDN plan (SMPP 3.4 §5.2.5-6): E.164 without its "+".
          destination_addr: message.to.replace(/^\+/, ""),
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          short_message: message.text,
          registered_delivery: o.deliveryReceipts ? 1 : 0,
        },
        (pdu) => {
          if (this.#session === session) this.#unanswered = 0;
          if (pdu.command_status === 0)
            finish(null, typeof pdu["message_id"] === "string" ? pdu["message_id"] : null);
          // An error status is the SMSC saying it did not take the message.
          else finish(new MessageSendError(`submit_sm refused with status ${pdu.command_status}`, true));
        },
      );
      if (!written) finish(new MessageSendError("the SMPP connection is not writable", true));
    });
  }

  /** Unbind and close; no reconnection after this. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#stopTimers();
    const session = this.#session;
    this.#bound = false;
    if (!session) return;
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => session.destroy(() => resolve()), 1000);
      done.unref?.();
      session.unbind({}, () => undefined);
      session.close(() => {
        clearTimeout(done);
        resolve();
      });
    });
  }
}
