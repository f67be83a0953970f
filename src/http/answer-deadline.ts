// The answer deadline (server.answerTimeoutSeconds): a request still waiting for the database then gets its fail-closed answer (N2).
import { TwofoldError } from "../core/errors.ts";

/**
 * A timer over one request's work. `race` rejects with ERR_STORE_UNAVAILABLE when it runs out, which the
 * error handler turns into the route's fail-closed answer (a Duo login: `deny`). A push wait has its own end
 * and is not cut short: `extend` moves the deadline past it just before it starts.
 */
export class AnswerDeadline {
  readonly #controller = new AbortController();
  readonly #expired: Promise<never>;
  #reject: (error: TwofoldError) => void = () => {};
  #timer: NodeJS.Timeout | undefined;
  #endsAt: number;

  constructor(readonly ms: number) {
    this.#expired = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    // Never awaited when the work wins: no unhandled rejection.
    this.#expired.catch(() => {});
    this.#endsAt = performance.now() + ms;
    this.#arm();
  }

  /** Aborted when the deadline passes: waits in the work stop. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** A wait of up to `waitMs` starts now: the deadline becomes the wait's end plus the usual allowance. */
  extend(waitMs: number): void {
    if (this.#controller.signal.aborted) return;
    this.#endsAt = Math.max(this.#endsAt, performance.now() + waitMs + this.ms);
    this.#arm();
  }

  /** The work's result, or ERR_STORE_UNAVAILABLE at the deadline (the work itself runs on, unheard). */
  async race<T>(work: Promise<T>): Promise<T> {
    try {
      return await Promise.race([work, this.#expired]);
    } finally {
      clearTimeout(this.#timer);
    }
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        const error = new TwofoldError("ERR_STORE_UNAVAILABLE", "no answer in time", {
          detail: `no answer within server.answerTimeoutSeconds (${this.ms} ms)`,
        });
        this.#controller.abort(error);
        this.#reject(error);
      },
      Math.max(0, this.#endsAt - performance.now()),
    );
  }
}
