// Login requests for every account: the live stream, reconnected with backoff, and polling while it is down.
import type { Account } from "./accounts.ts";
import { DeviceAPIError, type DevicePush, listPushes, readStream } from "./device-client.ts";

export type FeedStatus = "connecting" | "online" | "offline" | "rejected";

export interface FeedHandlers {
  onPush(account: Account, push: DevicePush): void;
  onResolved(account: Account, event: { txid: string; status: string }): void;
  /** After a poll: the pending pushes, and the txids this account showed as pending before it. */
  onSnapshot(account: Account, pushes: DevicePush[], knownBefore: Set<string>): void;
  onStatus(account: Account, status: FeedStatus): void;
}

export type KnownTxids = (account: Account) => Set<string>;

/** Browsers open about 6 HTTP/1.1 connections per server: leave room for answers and assets. */
const MAX_STREAMS_PER_ORIGIN = 4;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** A device the server refused (revoked, or a wrong clock) is asked again only now and then. */
const REJECTED_RETRY_MS = 300_000;
const POLL_MS = 15_000;
/** The server sends a keep-alive every 15 s; a stream silent for longer is dead even if the socket is not. */
const SILENCE_MS = 45_000;

export class PushFeed {
  #handlers: FeedHandlers;
  #connections = new Map<string, Connection>();

  constructor(handlers: FeedHandlers) {
    this.#handlers = handlers;
  }

  /** Follow exactly these accounts: start the new ones, stop the removed ones. */
  setAccounts(accounts: Account[], knownTxids: KnownTxids): void {
    const wanted = new Set(accounts.map((a) => a.id));
    for (const [id, connection] of this.#connections) {
      if (!wanted.has(id)) {
        connection.stop();
        this.#connections.delete(id);
      }
    }
    const streamsPerOrigin = new Map<string, number>();
    for (const account of accounts) {
      const streams = streamsPerOrigin.get(account.origin) ?? 0;
      if (this.#connections.has(account.id)) {
        if (this.#connections.get(account.id)?.streaming) streamsPerOrigin.set(account.origin, streams + 1);
        continue;
      }
      const streaming = streams < MAX_STREAMS_PER_ORIGIN;
      if (streaming) streamsPerOrigin.set(account.origin, streams + 1);
      const connection = new Connection(account, streaming, this.#handlers, knownTxids);
      this.#connections.set(account.id, connection);
      connection.start();
    }
  }

  /** Ask every server now (a Web Push arrived, the page became visible, the network came back). */
  refresh(): void {
    for (const connection of this.#connections.values()) connection.wake();
  }
}

class Connection {
  readonly streaming: boolean;
  #account: Account;
  #handlers: FeedHandlers;
  #knownTxids: KnownTxids;
  #stopped = new AbortController();
  #wakeSleep: (() => void) | null = null;
  #status: FeedStatus | "" = "";

  constructor(account: Account, streaming: boolean, handlers: FeedHandlers, knownTxids: KnownTxids) {
    this.#account = account;
    this.streaming = streaming;
    this.#handlers = handlers;
    this.#knownTxids = knownTxids;
  }

  start(): void {
    this.#setStatus("connecting");
    void (this.streaming ? this.#streamLoop() : this.#pollLoop());
  }

  stop(): void {
    this.#stopped.abort();
  }

  wake(): void {
    if (this.#wakeSleep) this.#wakeSleep();
    else void this.#poll();
  }

  #setStatus(status: FeedStatus): void {
    if (status === this.#status || this.#stopped.signal.aborted) return;
    this.#status = status;
    this.#handlers.onStatus(this.#account, status);
  }

  async #poll(): Promise<void> {
    const known = this.#knownTxids(this.#account);
    try {
      const pushes = await listPushes(this.#account, this.#stopped.signal);
      if (this.#stopped.signal.aborted) return;
      this.#handlers.onSnapshot(this.#account, pushes, known);
      if (!this.streaming) this.#setStatus("online");
    } catch (error) {
      if (this.#stopped.signal.aborted) return;
      this.#setStatus(error instanceof DeviceAPIError && error.status === 401 ? "rejected" : "offline");
    }
  }

  async #pollLoop(): Promise<void> {
    while (!this.#stopped.signal.aborted) {
      await this.#poll();
      await this.#sleep(this.#status === "rejected" ? REJECTED_RETRY_MS : POLL_MS);
    }
  }

  async #streamLoop(): Promise<void> {
    let delay = BACKOFF_MIN_MS;
    while (!this.#stopped.signal.aborted) {
      const attempt = new AbortController();
      const onStop = () => attempt.abort();
      this.#stopped.signal.addEventListener("abort", onStop, { once: true });
      let silence: ReturnType<typeof setTimeout> | undefined;
      const resetSilence = () => {
        clearTimeout(silence);
        silence = setTimeout(() => attempt.abort(), SILENCE_MS);
      };
      let opened = false;
      try {
        resetSilence();
        await readStream(this.#account, {
          signal: attempt.signal,
          onOpen: () => {
            opened = true;
            delay = BACKOFF_MIN_MS;
            this.#setStatus("online");
            // Pushes answered while we were away: a snapshot removes them (the stream only adds).
            void this.#poll();
          },
          onActivity: resetSilence,
          onEvent: (type, data) => this.#dispatch(type, data),
        });
      } catch (error) {
        if (error instanceof DeviceAPIError && error.status === 401) {
          this.#setStatus("rejected");
          delay = REJECTED_RETRY_MS;
        }
      } finally {
        clearTimeout(silence);
        this.#stopped.signal.removeEventListener("abort", onStop);
      }
      if (this.#stopped.signal.aborted) return;
      if (!opened && this.#status !== "rejected") {
        this.#setStatus("offline");
        // The stream cannot be had: fall back to polling, once per retry.
        await this.#poll();
      }
      await this.#sleep(opened ? BACKOFF_MIN_MS : jitter(delay));
      if (!opened)
        delay = Math.min(delay * 2, this.#status === "rejected" ? REJECTED_RETRY_MS : BACKOFF_MAX_MS);
    }
  }

  #dispatch(type: string, data: string): void {
    let value: { txid?: unknown } | null;
    try {
      value = JSON.parse(data);
    } catch {
      return;
    }
    if (type === "push" && value && typeof value.txid === "string")
      this.#handlers.onPush(this.#account, value as DevicePush);
    else if (type === "resolved" && value && typeof value.txid === "string")
      this.#handlers.onResolved(this.#account, value as { txid: string; status: string });
  }

  /** Wait, unless stopped or woken (wake also makes a waiting poll or reconnect happen now). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#stopped.signal.removeEventListener("abort", done);
        this.#wakeSleep = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#stopped.signal.addEventListener("abort", done, { once: true });
      this.#wakeSleep = done;
    });
  }
}

/** 75–125 % of `ms`, so that many devices do not reconnect in step after a server restart. */
function jitter(ms: number): number {
  return ms * (0.75 + (crypto.getRandomValues(new Uint8Array(1))[0] ?? 0) / 510);
}
