// Parses application/x-www-form-urlencoded bodies (HTML forms) into a plain object of strings, refusing ambiguity.
import type { FastifyInstance } from "fastify";
import { TwofoldError } from "../core/errors.ts";

const MAX_FIELDS = 100;
/** Keys that could reach an object's prototype if some code ever merged the result (H-1). */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * One value per key: a repeated key is refused rather than resolved, so every reader of the request sees the
 * same value (parameter pollution, K3). The body limit is Fastify's (server.bodyLimit).
 */
export function parseFormBody(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const params = new URLSearchParams(text);
  let count = 0;
  for (const [key, value] of params) {
    if (++count > MAX_FIELDS) throw invalid("too many form fields");
    if (FORBIDDEN_KEYS.has(key)) throw invalid(`forbidden form field name ${JSON.stringify(key)}`);
    if (Object.hasOwn(result, key)) throw invalid(`form field ${JSON.stringify(key)} is repeated`);
    result[key] = value;
  }
  return result;
}

function invalid(detail: string): TwofoldError {
  return new TwofoldError("ERR_VALIDATION", "The request is not valid.", { detail });
}

export function registerFormBodyParser(app: FastifyInstance): void {
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, body, done) => {
      try {
        done(null, parseFormBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}
