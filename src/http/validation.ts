// Route schemas (TypeBox): every route declares one, bodies are checked exactly as sent, objects reject unknown keys.
import type { TSchema } from "@sinclair/typebox";
import { KindGuard, Type as T } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { FormatRegistry } from "@sinclair/typebox/type";
import { Value } from "@sinclair/typebox/value";
import type { FastifyInstance, FastifySchemaCompiler, RouteOptions } from "fastify";
import { type ErrorIssue, TwofoldError } from "../core/errors.ts";

const MAX_ISSUES = 20;

/** C0 and C1 control characters except tab, line feed and carriage return. */
const CONTROL_CHARACTER = /[^\P{Cc}\t\n\r]/u;
const PLAIN_TEXT = "plain-text";
FormatRegistry.Set(PLAIN_TEXT, (value) => !CONTROL_CHARACTER.test(value));

/**
 * Text a person typed or an API names (user and phone fields, device names, ids): no control characters. NUL
 * cannot be stored by PostgreSQL, and none of them belongs in a name (H-1: a 400 naming the field, never a 500).
 */
export const PlainText = (options: { minLength?: number; maxLength: number; pattern?: string }) =>
  T.String({ ...options, format: PLAIN_TEXT });
const PART_LABEL: Record<string, string> = {
  body: "body",
  querystring: "query",
  params: "params",
  headers: "headers",
};

/** Puts off a compile: the function returned runs it once, when first called (see deferred-compilers.ts). */
export type Defer = <T>(compile: () => T) => () => T;

const compileOnFirstUse: Defer = (compile) => {
  let compiled: { value: ReturnType<typeof compile> } | undefined;
  return () => {
    compiled ??= { value: compile() };
    return compiled.value;
  };
};

/**
 * Fastify's default Ajv coerces types and silently removes unknown properties. Instead:
 * - bodies are validated as sent: "1" is not a number, an unknown key is an error (H-1);
 * - query strings and path parameters are text by nature, so they are converted to the schema's types first;
 * - headers are checked but never replaced.
 * TypeBox's compiler is used because TypeBox is how every route writes its schema; a plain JSON schema
 * (without TypeBox's kind marker) or an open object fails loudly at start-up. The checking code itself is
 * generated when `defer` says (by default on the first request the route validates): generating it for every
 * route at start was a large part of start-up.
 */
export function createValidatorCompiler(defer: Defer = compileOnFirstUse): FastifySchemaCompiler<TSchema> {
  return ({ schema, httpPart, method, url }) => {
    const part = httpPart ?? "body";
    if (!KindGuard.IsKind(schema))
      throw new Error(`${method} ${url}: the ${part} schema is not a TypeBox schema`);
    if (part !== "headers") {
      const open = findOpenObject(schema, "");
      if (open !== undefined)
        throw new Error(
          `${method} ${url}: the ${part} schema has an object at "${open || "(root)"}" without additionalProperties; ` +
            "set it (false unless unknown keys are really wanted)",
        );
    }
    const compiled = defer(() => TypeCompiler.Compile(schema));
    const label = PART_LABEL[part] ?? part;
    return (data: unknown) => {
      const checker = compiled();
      if (part === "body")
        return checker.Check(data) ? true : { error: validationError(label, checker, data) };
      const converted = Value.Convert(schema, data);
      if (!checker.Check(converted)) return { error: validationError(label, checker, converted) };
      return part === "headers" ? true : { value: converted };
    };
  };
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = createValidatorCompiler();

function validationError(
  label: string,
  checker: ReturnType<typeof TypeCompiler.Compile>,
  value: unknown,
): TwofoldError {
  const issues: ErrorIssue[] = [];
  const seen = new Set<string>();
  for (const e of checker.Errors(value)) {
    const path = label + e.path.replaceAll("/", ".");
    const key = `${path}\u0000${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const message =
      e.schema.format === PLAIN_TEXT && e.message.includes("format")
        ? "contains control characters"
        : e.message;
    issues.push({ path, message });
    if (issues.length >= MAX_ISSUES) break;
  }
  return new TwofoldError("ERR_VALIDATION", "The request is not valid.", { issues });
}

/** The path of the first object schema that does not say whether unknown keys are allowed. */
function findOpenObject(schema: unknown, path: string): string | undefined {
  if (schema === null || typeof schema !== "object") return undefined;
  const s = schema as Record<string, unknown>;
  if (
    s["type"] === "object" &&
    s["additionalProperties"] === undefined &&
    s["patternProperties"] === undefined
  )
    return path;
  for (const [key, child] of Object.entries(s)) {
    if (key === "default" || key === "examples" || key === "const" || key === "enum") continue;
    const children = Array.isArray(child) ? child : [child];
    for (const c of children) {
      const found = findOpenObject(c, key === "properties" ? path : `${path}${path ? "." : ""}${key}`);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** Refuse, at start-up, a route that would accept input without a schema or answer without one. */
export function requireRouteSchemas(app: FastifyInstance): void {
  app.addHook("onRoute", (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const where = `${methods.join(",")} ${route.url}`;
    const schema = route.schema;
    if (!schema?.response) throw new Error(`${where}: every route needs a response schema`);
    if (methods.some((m) => BODY_METHODS.has(m)) && !schema.body)
      throw new Error(`${where}: a route that accepts a body needs a body schema`);
    if (/[:*]/.test(route.url) && !schema.params)
      throw new Error(`${where}: a route with path parameters needs a params schema`);
  });
}
