// Push wake-ups within one process: listeners by key, and waits that end on an event, a timeout or an abort.
import type { PushEvent, PushEvents } from "../../core/ports.ts";

/** Keys an event is delivered under: its push and its user (an activation: its user; a resync: every key). */
function pushEventKeys(event: PushEvent, all: Iterable<string>): string[] {
  if (event.kind === "resync") return [...all];
  return event.kind === "activated" ? [`user:${event.userId}`] : [`tx:${event.txid}`, `user:${event.userId}`];
}

/** A CLI on the same SQLite file answers or starts pushes without telling this process: look often. */
export const LOCAL_FALLBACK_POLL_MS = 2_000;

/**
 * The in-process hub. `dispatch` hands an event to local listeners; `publish` does the same here, and the
 * PostgreSQL adapter also tells other nodes. Listener errors are contained: one bad listener cannot stop
 * others from waking.
 */
export class LocalPushEvents implements PushEvents {
  readonly #listeners = new Map<string, Set<(event: PushEvent) => void>>();
  readonly fallbackPollMs: number;

  constructor(fallbackPollMs = LOCAL_FALLBACK_POLL_MS) {
    this.fallbackPollMs = fallbackPollMs;
  }

  async publish(event: PushEvent): Promise<void> {
    this.dispatch(event);
  }

  dispatch(event: PushEvent): void {
    for (const key of pushEventKeys(event, this.#listeners.keys())) this.deliver(key, event);
  }

  /** Hand an event to the listeners of one key only (an adapter that knows which keys it concerns). */
  deliver(key: string, event: PushEvent): void {
    const set = this.#listeners.get(key);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the rest still wake.
      }
    }
  }

  /** The keys listened to now. */
  keys(): string[] {
    return [...this.#listeners.keys()];
  }

  subscribe(key: string, listener: (event: PushEvent) => void): () => void {
    let set = this.#listeners.get(key);
    if (!set) {
      set = new Set();
      this.#listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      const current = this.#listeners.get(key);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.#listeners.delete(key);
    };
  }

  waitFor(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener("abort", finish);
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, ms));
      const unsubscribe = this.subscribe(key, finish);
      signal?.addEventListener("abort", finish, { once: true });
    });
  }

  /** Number of keys with listeners (metrics, tests). */
  get listenedKeys(): number {
    return this.#listeners.size;
  }
}
