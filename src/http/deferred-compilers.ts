// Route serializers and validators compiled on their first use (or in the background after listening), not at start.
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";
import type { FastifyInstance } from "fastify";

type SerializerFactory = ReturnType<typeof SerializerSelector>;
type Serializer = (data: unknown) => string;

/**
 * Work that start-up leaves for later: each entry compiles one route's serializer or validator. Anything left when
 * a request needs it is compiled then; `warmUp` compiles the rest between requests once the server listens.
 */
export class DeferredCompiles {
  readonly #pending = new Set<() => void>();
  #stopped = false;

  /** A compile to run once, on first use or during warm-up, whichever comes first. */
  defer<T>(compile: () => T): () => T {
    let result: T | undefined;
    let done = false;
    const run = () => {
      if (!done) {
        result = compile();
        done = true;
        this.#pending.delete(run);
      }
      return result as T;
    };
    this.#pending.add(run);
    return run;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /**
   * After `afterMs` (the first requests, a health check among them, go first), compile what is still pending, one
   * at a time, yielding to the event loop after each (a request that arrives meanwhile waits for one compile at
   * most). A compile that fails is left for its route's first request, where it fails as it would have at start.
   */
  async warmUp(afterMs = 0): Promise<void> {
    if (afterMs > 0) await new Promise((resolve) => setTimeout(resolve, afterMs).unref());
    for (const run of [...this.#pending]) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#stopped) return;
      try {
        run();
      } catch {
        this.#pending.delete(run);
      }
    }
  }

  stop(): void {
    this.#stopped = true;
  }
}

/**
 * Fastify's own response serializers (fast-json-stringify, with the instance's shared schemas), built when a route
 * first answers. Built at start they were most of what start-up spent: fast-json-stringify sets up a JSON-schema
 * validator of its own for each one, and every route has several (one per status, and its HEAD twin). Routes that
 * share a schema object share its serializer.
 */
export function deferredSerializers(compiles: DeferredCompiles) {
  const select: SerializerFactory = SerializerSelector();
  return (externalSchemas?: unknown, options?: Parameters<SerializerFactory>[1]) => {
    const build = select(externalSchemas, options);
    const built = new WeakMap<object, () => Serializer>();
    return (route: Parameters<ReturnType<SerializerFactory>>[0]): Serializer => {
      const schema = route.schema;
      const key = typeof schema === "object" && schema !== null ? schema : undefined;
      let serializer = key ? built.get(key) : undefined;
      if (!serializer) {
        serializer = compiles.defer(() => build(route));
        if (key) built.set(key, serializer);
      }
      const get = serializer;
      return (data) => get()(data);
    };
  };
}

/** Each server instance's compiles left for later (buildServer records them; listenServer warms them up). */
const byServer = new WeakMap<FastifyInstance, DeferredCompiles>();

export function recordDeferredCompiles(app: FastifyInstance, compiles: DeferredCompiles): void {
  byServer.set(app, compiles);
}

/** The compiles a server instance leaves for later; undefined for an instance buildServer did not make. */
export function deferredCompilesOf(app: FastifyInstance): DeferredCompiles | undefined {
  return byServer.get(app);
}

/** A compile deferred on this server instance where it defers them, else run now (an instance of a test's own). */
export function compileLater<T>(app: FastifyInstance, compile: () => T): () => T {
  const compiles = byServer.get(app);
  if (compiles) return compiles.defer(compile);
  const result = compile();
  return () => result;
}
