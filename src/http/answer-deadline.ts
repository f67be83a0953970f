// The answer deadline (server.answerTimeoutSeconds): a request still waiting for the database then gets its fail-closed answer (N2).
import {
  errorCodes,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HookHandlerDoneFunction,
  type RouteOptions,
} from "fastify";
import { TwofoldError } from "../core/errors.ts";

const TIMER = Symbol("answerDeadlineTimer");
type TimedRequest = FastifyRequest & { [TIMER]?: NodeJS.Timeout | undefined };

/**
 * Every route without a limit of its own (`handlerTimeout`: the prompt's and start page's push waits) answers
 * within `ms` of its request's start, or within its `config.requestDeadlineMs` (the Duo routes: the whole-request
 * timeout plus the longest push wait they may add): after that, the error handler sends the route's fail-closed answer (a 503, or a Duo
 * login's deny; a body still arriving is a 408). One timer per request, set when the request starts and cleared
 * when its response ends; no AbortController and no listener on the socket (Fastify's own handlerTimeout makes
 * both for every request). Nothing on the paths it covers waits on a signal: a database call that overruns is
 * answered and runs on, unheard.
 */
export function registerAnswerDeadline(app: FastifyInstance, ms: number): void {
  if (!(ms > 0)) return;
  const starters = new Map<
    number,
    (r: FastifyRequest, p: FastifyReply, d: HookHandlerDoneFunction) => void
  >();
  const startAfter = (limit: number) => {
    let start = starters.get(limit);
    if (!start) {
      start = (request, reply, done) => {
        (request as TimedRequest)[TIMER] = setTimeout(expire, limit, request, reply, limit);
        done();
      };
      starters.set(limit, start);
    }
    return start;
  };
  const stop = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    clearTimeout((request as TimedRequest)[TIMER]);
    done();
  };
  app.addHook("onRoute", (route: RouteOptions) => {
    if (route.handlerTimeout !== undefined) return;
    const own = (route.config as { requestDeadlineMs?: unknown } | undefined)?.requestDeadlineMs;
    const limit = typeof own === "number" && own > 0 ? own : ms;
    route.onRequest = [startAfter(limit), ...hooks(route.onRequest)];
    route.onResponse = [...hooks(route.onResponse), stop];
  });
}

function hooks<H>(value: H | H[] | undefined): H[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function expire(request: FastifyRequest, reply: FastifyReply, ms: number): void {
  // Answered, hijacked or hung up meanwhile: nothing left to do.
  if (reply.sent || reply.raw.destroyed) return;
  const error = new errorCodes.FST_ERR_HANDLER_TIMEOUT(ms, request.routeOptions.url);
  // The answer has started (a stream): it cannot become an error answer now, so it is cut off.
  if (reply.raw.headersSent) {
    reply.raw.destroy(error);
    return;
  }
  reply.send(error);
}

/**
 * A timer over one request's work. `race` rejects with ERR_STORE_UNAVAILABLE when it runs out, which the
 * error handler turns into the route's fail-closed answer (a Duo login: `deny`). A push wait has its own end
 * and is not cut short: `extend` moves the deadline past it just before it starts.
 */
export class AnswerDeadline {
  /** Made when a wait first asks for `signal`. */
  #controller: AbortController | undefined;
  #error: TwofoldError | undefined;
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
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#error) this.#controller.abort(this.#error);
    }
    return this.#controller.signal;
  }

  /** A wait of up to `waitMs` starts now: the deadline becomes the wait's end plus the usual allowance. */
  extend(waitMs: number): void {
    if (this.#error) return;
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
        this.#error = error;
        this.#controller?.abort(error);
        this.#reject(error);
      },
      Math.max(0, this.#endsAt - performance.now()),
    );
  }
}
