// Loads configuration from a YAML/JSON file and TWOFOLD_* variables, reports every problem at once, then freezes it.
import { existsSync, readFileSync } from "node:fs";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseDocument } from "yaml";
import { type ErrorIssue, TwofoldError } from "../core/errors.ts";
import { type Config, ConfigSchema } from "./schema.ts";

export type { Config } from "./schema.ts";

export interface LoadOptions {
  /** Configuration file (YAML or JSON). Defaults to $TWOFOLD_CONFIG. */
  file?: string | undefined;
  /** Environment to read TWOFOLD_* overrides from. */
  env?: Record<string, string | undefined>;
  /** Values that win over file and environment (command-line flags such as --demo). */
  overrides?: Record<string, unknown>;
}

/** Variables that are not settings but are still ours (TWOFOLD_DEVICE_STATE: `twofold device`'s state file). */
const RESERVED_ENV = new Set([
  "TWOFOLD_CONFIG",
  "TWOFOLD_ENCRYPTION_KEY",
  "TWOFOLD_DEBUG",
  "TWOFOLD_DEVICE_STATE",
]);
const RESERVED_ENV_PREFIXES = ["TWOFOLD_TEST_"];

// Unknown keys anywhere are mistakes (a typo would silently keep a default), so every object is closed.
closeObjects(ConfigSchema);

export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const file = options.file ?? env["TWOFOLD_CONFIG"];
  const issues: ErrorIssue[] = [];

  let raw: Record<string, unknown> = {};
  if (file) {
    if (!existsSync(file)) {
      throw new TwofoldError("ERR_CONFIG_INVALID", `configuration file ${file} does not exist`, {
        issues: [{ path: "(file)", message: `${file} does not exist` }],
      });
    }
    try {
      const doc = parseDocument(readFileSync(file, "utf8"));
      if (doc.errors.length > 0) throw doc.errors[0];
      const parsed = plainFromYAML(doc.toJS({ mapAsMap: true }), "", issues);
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== "object" || Array.isArray(parsed))
          issues.push({ path: "(file)", message: "the file must hold a mapping of settings" });
        else raw = parsed as Record<string, unknown>;
      }
    } catch (cause) {
      throw new TwofoldError("ERR_CONFIG_INVALID", `configuration file ${file} is not valid YAML or JSON`, {
        cause,
        issues: [{ path: "(file)", message: (cause as Error).message.split("\n")[0] ?? "parse error" }],
      });
    }
  }

  applyEnvironment(raw, env, issues);
  for (const [path, value] of Object.entries(options.overrides ?? {})) setPath(raw, path.split("."), value);

  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw)) as Config;
  for (const error of Value.Errors(ConfigSchema, withDefaults)) {
    issues.push({
      path: error.path.replace(/^\//, "").replaceAll("/", ".") || "(root)",
      message: `${error.message} (got ${JSON.stringify(error.value)?.slice(0, 80)})`,
    });
  }
  try {
    checkSemantics(withDefaults, issues);
    checkWebAuthn(withDefaults, issues);
  } catch {
    // A value of the wrong type was already reported by the schema check above.
  }
  if (issues.length > 0) {
    throw new TwofoldError(
      "ERR_CONFIG_INVALID",
      `configuration is invalid:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join("\n")}`,
      { issues },
    );
  }
  fillWebAuthnDefaults(withDefaults);
  return deepFreeze(withDefaults);
}

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Maps from the YAML parser become plain objects; keys that could pollute prototypes are refused (H-1). */
function plainFromYAML(value: unknown, path: string, issues: ErrorIssue[]): unknown {
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) {
      const key = String(k);
      const here = path ? `${path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key)) {
        issues.push({ path: here, message: "this key is not allowed" });
        continue;
      }
      out[key] = plainFromYAML(v, here, issues);
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => plainFromYAML(v, `${path}.${i}`, issues));
  return value;
}

/** Decode a configured master key (base64 or base64url). */
export function decodeKey(text: string): Uint8Array {
  return new Uint8Array(
    Buffer.from(text.trim(), text.includes("-") || text.includes("_") ? "base64url" : "base64"),
  );
}

/** A metrics bearer token shorter than this is refused: it is the only thing guarding /metrics on a public listener. */
const METRICS_TOKEN_MIN = 32;

/** `host:port` (`[v6]:port` for IPv6) as a listen address, or undefined when it is not one. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):([0-9]{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** Security floors and cross-field rules that a per-field schema cannot express. */
/** WCAG 2.x contrast ratio of a #rrggbb colour against white. */
export function contrastWithWhite(hex: string): number {
  const channel = (i: number) => {
    const v = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return 1.05 / (luminance + 0.05);
}

function checkSemantics(c: Config, issues: ErrorIssue[]): void {
  if (/^#[0-9a-fA-F]{6}$/.test(c.branding.accentColor) && contrastWithWhite(c.branding.accentColor) < 4.5)
    issues.push({
      path: "branding.accentColor",
      message: `${c.branding.accentColor} has ${contrastWithWhite(c.branding.accentColor).toFixed(2)}:1 contrast against white; at least 4.5:1 is needed (text on it must stay readable)`,
    });
  if (c.branding.logo && !/\.(svg|png)$/i.test(c.branding.logo))
    issues.push({ path: "branding.logo", message: "the logo must be an .svg or .png file" });
  if (c.mode === "production" && c.keys.encryption.length === 0) {
    issues.push({
      path: "keys.encryption",
      message:
        "an encryption key is required outside demo mode (set TWOFOLD_ENCRYPTION_KEY to 32+ random bytes, base64)",
    });
  }
  c.keys.encryption.forEach((k, i) => {
    const bytes = decodeKey(k.key);
    if (bytes.length < 32)
      issues.push({
        path: `keys.encryption.${i}.key`,
        message: `key ${k.id} is ${bytes.length} bytes; 32 or more needed`,
      });
  });
  const ids = c.keys.encryption.map((k) => k.id);
  if (new Set(ids).size !== ids.length)
    issues.push({ path: "keys.encryption", message: "key ids must be unique" });
  const b = c.policy.bypass;
  if (b.defaultUses > b.maxUses)
    issues.push({
      path: "policy.bypass.defaultUses",
      message: `must not exceed policy.bypass.maxUses (${b.maxUses})`,
    });
  if (b.defaultValiditySeconds > b.maxValiditySeconds)
    issues.push({
      path: "policy.bypass.defaultValiditySeconds",
      message: `must not exceed policy.bypass.maxValiditySeconds (${b.maxValiditySeconds})`,
    });
  if (c.mail.smtp.host && !c.mail.from)
    issues.push({ path: "mail.from", message: "required when mail.smtp.host is set" });
  const l = c.policy.lockout;
  if (l.delayBaseSeconds > l.delayMaxSeconds)
    issues.push({
      path: "policy.lockout.delayBaseSeconds",
      message: "must not exceed policy.lockout.delayMaxSeconds",
    });
  // A peer is an integration's server relaying every one of its users' logins: a peer limit below the
  // per-address one would throttle everyone behind a VPN or web application before any single address.
  const th = c.policy.throttle;
  if (th.perPeer < th.perAddress)
    issues.push({
      path: "policy.throttle.perPeer",
      message: `must be at least policy.throttle.perAddress (${th.perAddress})`,
    });
  // One override per application: two would leave which one wins to the order of the file.
  const seen = new Set<string>();
  c.policy.applications.overrides.forEach((o, i) => {
    if (seen.has(o.integrationKey))
      issues.push({
        path: `policy.applications.overrides.${i}.integrationKey`,
        message: `${o.integrationKey} has an override already`,
      });
    seen.add(o.integrationKey);
  });
  const tls = c.server.tls;
  if (Boolean(tls.cert) !== Boolean(tls.key))
    issues.push({ path: "server.tls", message: "set both cert and key, or neither" });
  for (const which of ["cert", "key"] as const) {
    if (tls[which] && !existsSync(tls[which]))
      issues.push({ path: `server.tls.${which}`, message: `file ${tls[which]} does not exist` });
  }
  if (c.server.publicUrl) {
    try {
      const u = new URL(c.server.publicUrl);
      if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("scheme");
    } catch {
      issues.push({ path: "server.publicUrl", message: "must be an http(s) URL" });
    }
  }
  if (c.metrics.listen && !parseListenAddress(c.metrics.listen))
    issues.push({ path: "metrics.listen", message: "must be host:port, e.g. 127.0.0.1:9464 or [::1]:9464" });
  if (c.metrics.token && c.metrics.token.length < METRICS_TOKEN_MIN)
    issues.push({ path: "metrics.token", message: `must be at least ${METRICS_TOKEN_MIN} characters` });
  const guard = c.sms.guard;
  if (guard.sendRetentionDays < guard.breaker.baselineDays + 1)
    issues.push({
      path: "sms.guard.sendRetentionDays",
      message: `must be at least sms.guard.breaker.baselineDays + 1 (${guard.breaker.baselineDays + 1}): the baseline reads that many days of texts`,
    });
  if (guard.breaker.settleSeconds >= guard.breaker.windowSeconds)
    issues.push({
      path: "sms.guard.breaker.settleSeconds",
      message: "must be less than sms.guard.breaker.windowSeconds",
    });
  if (c.database.url && !/^postgres(ql)?:\/\//.test(c.database.url))
    issues.push({ path: "database.url", message: "must be a postgres:// URL (leave empty for SQLite)" });
}

interface Leaf {
  path: string[];
  schema: TSchema;
}

function leaves(schema: TSchema, path: string[] = []): Leaf[] {
  if (schema["type"] === "object" && schema["properties"]) {
    return Object.entries(schema["properties"] as Record<string, TSchema>).flatMap(([k, s]) =>
      leaves(s, [...path, k]),
    );
  }
  return [{ path, schema }];
}

const ENV_LEAVES = new Map<string, Leaf>(
  leaves(ConfigSchema).map((l) => [`TWOFOLD_${l.path.map(toSnake).join("_")}`, l] as const),
);

function toSnake(segment: string): string {
  return segment.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Every TWOFOLD_* variable maps to one setting (`policy.lockout.maxFailures` ← TWOFOLD_POLICY_LOCKOUT_MAX_FAILURES). */
function applyEnvironment(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined>,
  issues: ErrorIssue[],
) {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("TWOFOLD_") || value === undefined) continue;
    if (RESERVED_ENV.has(name) || RESERVED_ENV_PREFIXES.some((p) => name.startsWith(p))) continue;
    const leaf = ENV_LEAVES.get(name);
    if (!leaf) {
      issues.push({ path: name, message: "unknown TWOFOLD_ variable (no such setting)" });
      continue;
    }
    setPath(raw, leaf.path, convertEnvValue(value, leaf.schema));
  }
  const key = env["TWOFOLD_ENCRYPTION_KEY"];
  if (key) setPath(raw, ["keys", "encryption"], [{ id: "env", key }]);
}

function convertEnvValue(value: string, schema: TSchema): unknown {
  const type = schema["type"] ?? (schema["anyOf"] as TSchema[] | undefined)?.[0]?.["type"];
  if (type === "integer" || type === "number") {
    const n = Number(value);
    return value.trim() === "" || Number.isNaN(n) ? value : n;
  }
  if (type === "boolean") return value === "true" ? true : value === "false" ? false : value;
  if (type === "array") return value.trim() === "" ? [] : value.split(",").map((s) => s.trim());
  return value;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (key === "__proto__" || key === "constructor" || key === "prototype") return;
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function closeObjects(schema: TSchema): void {
  if (schema["type"] === "object") {
    schema["additionalProperties"] = false;
    for (const s of Object.values((schema["properties"] ?? {}) as Record<string, TSchema>)) closeObjects(s);
  }
  if (schema["type"] === "array" && schema["items"]) closeObjects(schema["items"] as TSchema);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The base URL users and devices reach this server at: server.publicUrl, else derived from host, port and TLS. */
export function publicBaseUrl(config: Readonly<Config>): string {
  const { publicUrl, host, port, tls } = config.server;
  if (publicUrl) return publicUrl.replace(/\/+$/, "");
  return `${tls.cert ? "https" : "http"}://${urlHost(host)}:${port}`;
}

/** The host Duo client software is configured with: the public URL's host, else host:port. */
export function apiHost(config: Readonly<Config>): string {
  if (config.server.publicUrl) return new URL(config.server.publicUrl).host;
  return `${config.server.host}:${config.server.port}`;
}

/** A listening address as a URL's host: the wildcard addresses as localhost, IPv6 in brackets. */
export function urlHost(host: string): string {
  return host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
}

/** The link (and QR code) that activates a Twofold Authenticator: the app's page with the token in the fragment. */
export function activationLink(config: Readonly<Config>, token: string): string {
  return `${publicBaseUrl(config)}/authenticator#activate=${token}`;
}

/** An IP address literal: browsers refuse those as a WebAuthn RP ID. */
function isIPAddress(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(":") || host.startsWith("[");
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "[::1]", "0.0.0.0", "::", "[::]", "localhost"]);

/**
 * WebAuthn rules a per-field schema cannot express (F2): origins are bare origins, https except on localhost;
 * the RP ID is a domain (not an address) that every origin's host equals or ends with; an AAGUID allow-list
 * needs attestation asked for.
 */
function checkWebAuthn(c: Config, issues: ErrorIssue[]): void {
  const w = c.webauthn;
  if (w.rpId && (isIPAddress(w.rpId) || w.rpId !== w.rpId.toLowerCase() || w.rpId.startsWith(".")))
    issues.push({ path: "webauthn.rpId", message: "must be a lower-case domain name, not an address" });
  w.origins.forEach((origin, i) => {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      issues.push({
        path: `webauthn.origins.${i}`,
        message: "must be an origin such as https://login.example.edu",
      });
      return;
    }
    if (url.origin !== origin)
      issues.push({
        path: `webauthn.origins.${i}`,
        message: `must be exactly an origin (scheme://host[:port], no path or trailing slash): ${url.origin}`,
      });
    else if (url.protocol !== "https:" && url.hostname !== "localhost")
      issues.push({ path: `webauthn.origins.${i}`, message: "must be https (http only for localhost)" });
    else if (w.rpId && url.hostname !== w.rpId && !url.hostname.endsWith(`.${w.rpId}`))
      issues.push({
        path: `webauthn.origins.${i}`,
        message: `its host is not ${w.rpId} or a subdomain of it`,
      });
  });
  w.topOrigins.forEach((origin, i) => {
    try {
      if (new URL(origin).origin === origin) return;
    } catch {
      // reported below
    }
    issues.push({
      path: `webauthn.topOrigins.${i}`,
      message: "must be exactly an origin (scheme://host[:port])",
    });
  });
  if (w.attestation.allowedAAGUIDs.length > 0 && w.attestation.conveyance !== "direct")
    issues.push({
      path: "webauthn.attestation.allowedAAGUIDs",
      message: 'needs webauthn.attestation.conveyance "direct": only a verified attestation proves the model',
    });
  if (w.attestation.allowedAAGUIDs.length > 0 && w.attestation.rootCertificates.length === 0)
    issues.push({
      path: "webauthn.attestation.rootCertificates",
      message: "an AAGUID allow-list needs the attestation roots the authenticators' chains end at",
    });
  w.attestation.rootCertificates.forEach((file, i) => {
    if (!existsSync(file) || !readFileSync(file, "utf8").includes("-----BEGIN CERTIFICATE-----"))
      issues.push({
        path: `webauthn.attestation.rootCertificates.${i}`,
        message: `${file} is not a PEM certificate file`,
      });
  });
}

/**
 * Derive what was left empty: the RP ID and origin from the public URL (a loopback address becomes localhost, the
 * only name browsers accept there), the RP name from the organisation. Done once at load, so the frozen
 * configuration says what the server uses.
 */
function fillWebAuthnDefaults(c: Config): void {
  const w = c.webauthn as { rpId: string; rpName: string; origins: string[] };
  const base = new URL(publicBaseUrl(c));
  if (LOOPBACK.has(base.hostname)) base.hostname = "localhost";
  if (!w.rpId) w.rpId = base.hostname;
  if (w.origins.length === 0) w.origins = [base.origin];
  if (!w.rpName) w.rpName = c.organization.name;
  // The files become their PEM text: the core reads no files.
  const attestation = w as unknown as { attestation: { rootCertificates: string[] } };
  attestation.attestation.rootCertificates = attestation.attestation.rootCertificates.map((file) =>
    readFileSync(file, "utf8"),
  );
}
