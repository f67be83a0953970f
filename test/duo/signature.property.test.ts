// H-5 (K1, K2): Duo request signing (duo-compat §1) — the spec's vectors, an independent signer, the real duo_api signer and single-byte mutations, all through verifyDuoSignature.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { stringify as stringifyQuery } from "node:querystring";
import { describe, test } from "node:test";
import * as duoSig from "@duosecurity/duo_api/lib/duo_sig.js";
import fc from "fast-check";
import { Secret } from "../../src/core/secret.ts";
import {
  canonicalParams,
  type DuoCredentials,
  parseDuoAuthorization,
  parseRequestDate,
  type SignatureCheck,
  type SignedRequestParts,
  verifyDuoSignature,
} from "../../src/core/signed-request.ts";

// ---------------------------------------------------------------------------------------------------------
// An independent signer, written from duo-compat §1.1–§1.5 only (nothing imported from src/core).
// ---------------------------------------------------------------------------------------------------------

type Algorithm = "SHA1" | "SHA512";
type Variant = "L-SHA1" | "L-SHA512" | "v2-SHA1" | "v2-SHA512" | "v4" | "v5";
const VARIANTS: readonly Variant[] = ["L-SHA1", "L-SHA512", "v2-SHA1", "v2-SHA512", "v4", "v5"];

interface Request {
  variant: Variant;
  method: string;
  /** As the client typed it (any case); the canonical line lowercases it (§1.4). */
  host: string;
  path: string;
  /** Decoded names and values, in wire order. */
  params: Array<[string, string]>;
  /** The date header's exact text; null for L. */
  date: string | null;
  dateHeader: "date" | "x-duo-date";
  /** The raw JSON body (v4, v5), else null. */
  jsonBody: string | null;
  /** Extra `X-Duo-*` headers (v5), names in any case. */
  duoHeaders: Array<[string, string]>;
  allowUndated: boolean;
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** §1.5 step 3: UTF-8, unreserved bytes kept, every other byte `%XX` with uppercase hex. */
function percentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** §1.5 steps 3–5: encode, sort by encoded name byte-wise (values of a repeated name keep their order), join. */
function paramsLine(params: ReadonlyArray<readonly [string, string]>): string {
  const encoded = params.map(([k, v]) => [percentEncode(k), percentEncode(v)] as const);
  // Array.prototype.sort is stable, so repeated names keep their given order (as Node signs them).
  encoded.sort((a, b) => Buffer.compare(Buffer.from(a[0], "latin1"), Buffer.from(b[0], "latin1")));
  return encoded.map(([k, v]) => `${k}=${v}`).join("&");
}

const sha512Hex = (data: string | Uint8Array) => createHash("sha512").update(data).digest("hex");

/** §1.2 v5 last line: X-Duo-* names lowercased and sorted, name and value alternately joined by NUL. */
function duoHeadersLine(headers: ReadonlyArray<readonly [string, string]>): string {
  const lowered = headers.map(([k, v]) => [k.toLowerCase(), v] as const);
  lowered.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return sha512Hex(lowered.flat().join("\u0000"));
}

function algorithmOf(variant: Variant): Algorithm {
  return variant.endsWith("SHA1") ? "SHA1" : "SHA512";
}

/** The canonical request of §1.2, lines joined by `\n` without a trailing newline. */
function canonicalRequest(r: Request): string {
  const lines = [r.method.toUpperCase(), r.host.toLowerCase(), r.path, paramsLine(r.params)];
  if (r.variant.startsWith("L-")) return lines.join("\n");
  const dated = [r.date ?? "", ...lines];
  if (r.variant.startsWith("v2-")) return dated.join("\n");
  const bodyHash = sha512Hex(r.jsonBody ?? "");
  if (r.variant === "v4") return [...dated, bodyHash].join("\n");
  return [...dated, bodyHash, duoHeadersLine(r.duoHeaders)].join("\n");
}

function hmacHex(algorithm: Algorithm, key: string, text: string): string {
  return createHmac(algorithm === "SHA1" ? "sha1" : "sha512", key)
    .update(text, "utf8")
    .digest("hex");
}

/** §1.1: `Basic base64(ikey:hexdigest)`. */
function authorization(ikey: string, signature: string): string {
  return `Basic ${Buffer.from(`${ikey}:${signature}`).toString("base64")}`;
}

const IKEY = "DIPROPERTY0000000001";
const SKEY = "s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3tS3CR3Ts3c";
/** A fixed "server time" with a millisecond part, so the window edges are not all on whole seconds. */
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0, 437);

function sign(r: Request, skey = SKEY): string {
  return hmacHex(algorithmOf(r.variant), skey, canonicalRequest(r));
}

/** What the HTTP layer hands the verifier for this request (§1.4: host candidates, §1.3: date header). */
function partsOf(r: Request): SignedRequestParts {
  const headers: Array<[string, string]> = [
    ["host", r.host],
    ["user-agent", "signature.property.test"],
    ["content-type", r.jsonBody === null ? "application/x-www-form-urlencoded" : "application/json"],
    ...r.duoHeaders,
  ];
  if (r.date !== null) headers.push([r.dateHeader, r.date]);
  return {
    method: r.method,
    path: r.path,
    hosts: ["decoy.example.net", r.host, `${r.host}:8443`],
    date: r.date,
    params: r.params,
    jsonBody: r.jsonBody === null ? null : new TextEncoder().encode(r.jsonBody),
    headers,
    allowUndated: r.allowUndated,
  };
}

function credentialsOf(header: string): DuoCredentials {
  const parsed = parseDuoAuthorization(header);
  assert.ok(parsed.ok, `the header ${header} should parse`);
  return parsed.credentials;
}

function verify(r: Request, signature: string, now = NOW): SignatureCheck {
  return verifyDuoSignature(partsOf(r), credentialsOf(authorization(IKEY, signature)), new Secret(SKEY), now);
}

// ---------------------------------------------------------------------------------------------------------
// Dates in every format of §1.3.
// ---------------------------------------------------------------------------------------------------------

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad2 = (n: number) => String(n).padStart(2, "0");

type Zone = "GMT" | "-0000" | "+0000" | number;

/** RFC 5322 date-time of instant `ms` written in `zone` (a numeric zone is minutes east of UTC). */
function formatDate(ms: number, zone: Zone, weekday = true): string {
  const offset = typeof zone === "number" ? zone : 0;
  const d = new Date(ms + offset * 60_000);
  const z =
    typeof zone === "number"
      ? `${zone < 0 ? "-" : "+"}${pad2(Math.floor(Math.abs(zone) / 60))}${pad2(Math.abs(zone) % 60)}`
      : zone;
  const day = weekday ? `${DAYS[d.getUTCDay()]}, ` : "";
  return `${day}${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} ${z}`;
}

const zoneArb: fc.Arbitrary<Zone> = fc.oneof(
  fc.constantFrom<Zone>("GMT", "-0000", "+0000"),
  fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
);

/** A date string for an instant `skewMs` away from NOW. */
const dateArb = (skew: fc.Arbitrary<number>) =>
  fc
    .record({ skew, zone: zoneArb, weekday: fc.boolean() })
    .map(({ skew: s, zone, weekday }) => formatDate(NOW + s, zone, weekday));

// ---------------------------------------------------------------------------------------------------------
// Random requests.
// ---------------------------------------------------------------------------------------------------------

/** Characters that stress the canonicaliser: delimiters, `+`, `%`, `!'()*`, controls, non-ASCII, astral. */
const trickyChar = fc.constantFrom(
  " ",
  "+",
  "&",
  "=",
  "%",
  "%2",
  "%20",
  "!",
  "'",
  "(",
  ")",
  "*",
  "~",
  "-",
  ".",
  "_",
  "/",
  "?",
  "#",
  "|",
  ":",
  ";",
  "\n",
  "\u0000",
  "é",
  "e\u0301",
  "\u00a0",
  "€",
  "ｆ",
  "😀",
  "\u{10FFFF}",
);
const unitArb = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: trickyChar },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
);
const valueArb = fc.string({ unit: unitArb, maxLength: 12 });
/** Names: some from a small pool (so names repeat), some random. */
const nameArb = fc.oneof(
  fc.constantFrom("username", "user", "a", "a b", "A", "a_b", "ä", "😀"),
  fc.string({ unit: unitArb, minLength: 1, maxLength: 8 }),
);
const paramsArb = fc.array(fc.tuple(nameArb, valueArb), { maxLength: 8 });

const hostArb = fc
  .tuple(
    fc.array(fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/), { minLength: 1, maxLength: 4 }),
    fc.constantFrom("example.org", "duosecurity.com", "test"),
  )
  .map(([labels, tld]) => [...labels, tld].join("."))
  .chain((h) => fc.mixedCase(fc.constant(h)));

const pathArb = fc
  .array(fc.stringMatching(/^[A-Za-z0-9\-._~]{1,12}$/), { minLength: 1, maxLength: 4 })
  .map((segments) => `/${segments.join("/")}`);

const duoHeadersArb = fc
  .uniqueArray(
    fc.tuple(
      fc
        .mixedCase(fc.stringMatching(/^x-duo-[a-z0-9](?:[a-z0-9-]{0,10})$/))
        .filter((n) => n.toLowerCase() !== "x-duo-date"),
      fc.string({ unit: "grapheme-ascii", maxLength: 20 }),
    ),
    { maxLength: 3, selector: ([name]) => name.toLowerCase() },
  )
  .map((list) => list.map(([k, v]) => [k, v] as [string, string]));

const jsonBodyArb = fc.json({ maxDepth: 2 });

function requestArb(
  options: { variants?: readonly Variant[]; skew?: fc.Arbitrary<number> } = {},
): fc.Arbitrary<Request> {
  const skew = options.skew ?? fc.integer({ min: -299_000, max: 299_000 });
  return fc.constantFrom(...(options.variants ?? VARIANTS)).chain((variant) => {
    const undated = variant.startsWith("L-");
    return fc.record({
      variant: fc.constant(variant),
      method: fc.constantFrom("GET", "POST", "DELETE"),
      host: hostArb,
      path: pathArb,
      params: paramsArb,
      date: undated ? fc.constant(null) : dateArb(skew),
      dateHeader: fc.constantFrom<"date" | "x-duo-date">("date", "x-duo-date"),
      jsonBody:
        variant === "v4"
          ? jsonBodyArb
          : variant === "v5"
            ? fc.option(jsonBodyArb, { nil: null })
            : fc.constant(null),
      duoHeaders: variant === "v5" ? duoHeadersArb : fc.constant([] as Array<[string, string]>),
      // L is only ever acceptable where undated requests are allowed (the /rest/v1 paths).
      allowUndated: undated ? fc.constant(true) : fc.boolean(),
    });
  });
}

const expectedVariant = (v: Variant) => (v.startsWith("L-") ? "L" : v.startsWith("v2-") ? "v2" : v);

// ---------------------------------------------------------------------------------------------------------

describe("duo-compat §1.6 worked example (spec vectors)", () => {
  interface Vector {
    name: string;
    variant: "L" | "v2" | "v5";
    algorithm: Algorithm;
    date: string | null;
    method: string;
    path: string;
    params: Array<[string, string]>;
    jsonBody: string | null;
    canonicalParams: string;
    canonical: string[];
    signature: string;
  }
  const spec = JSON.parse(readFileSync("test/vectors/duo-compat-1.6.json", "utf8")) as {
    ikey: string;
    skey: string;
    host: string;
    cases: Vector[];
  };

  for (const v of spec.cases) {
    test(v.name, () => {
      // The params line, from src and from the independent signer, is the spec's text exactly.
      assert.equal(canonicalParams(v.params), v.canonicalParams);
      assert.equal(paramsLine(v.params), v.canonicalParams);
      // The data file itself is consistent: its canonical string has the spec's HMAC.
      assert.equal(hmacHex(v.algorithm, spec.skey, v.canonical.join("\n")), v.signature);

      const at = v.date === null ? Date.UTC(2026, 2, 2, 9, 15, 0) : parseRequestDate(v.date);
      assert.equal(at, Date.UTC(2026, 2, 2, 9, 15, 0));
      const check = verifyDuoSignature(
        {
          method: v.method,
          path: v.path,
          hosts: [spec.host],
          date: v.date,
          params: v.params,
          jsonBody: v.jsonBody === null ? null : new TextEncoder().encode(v.jsonBody),
          headers: v.date === null ? [] : [["date", v.date]],
          allowUndated: v.variant === "L",
        },
        credentialsOf(authorization(spec.ikey, v.signature)),
        new Secret(spec.skey),
        at! + 1000,
      );
      assert.deepEqual(check, {
        ok: true,
        variant: v.variant,
        algorithm: v.algorithm,
        signedAt: v.date === null ? null : at,
      });
    });
  }
});

describe("verify(sign(r)) with an independent signer (K1, H-5)", () => {
  test("every variant, host case, delimiter-laden parameters and date format verifies as its own variant", () => {
    fc.assert(
      fc.property(requestArb(), (r) => {
        const check = verify(r, sign(r));
        assert.deepEqual(check, {
          ok: true,
          variant: expectedVariant(r.variant),
          algorithm: algorithmOf(r.variant),
          signedAt: r.date === null ? null : parseDateIndependently(r.date),
        });
      }),
      { numRuns: 1000 },
    );
  });

  test("an uppercase hex digest verifies too (§1.1: compare case-insensitively)", () => {
    fc.assert(
      fc.property(requestArb(), (r) => {
        assert.equal(verify(r, sign(r).toUpperCase()).ok, true);
      }),
      { numRuns: 100 },
    );
  });

  test("parameter order on the wire does not matter, the canonical order does (§1.5 step 4)", () => {
    fc.assert(
      fc.property(
        requestArb({ variants: ["v2-SHA512"] }).filter(
          (r) => new Set(r.params.map(([k]) => k)).size === r.params.length,
        ),
        fc.func(fc.integer()),
        (r, key) => {
          const shuffled = { ...r, params: [...r.params].sort((a, b) => key(a) - key(b)) };
          assert.equal(verify(shuffled, sign(r)).ok, true);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("repeated names: values in the order given (Node) or sorted (Python) both verify", () => {
    fc.assert(
      fc.property(
        // Unique names, none of them `tag`: only the added name repeats.
        requestArb({ variants: ["v2-SHA512", "v5"] }).filter(
          (r) =>
            new Set(r.params.map(([k]) => k)).size === r.params.length &&
            !r.params.some(([k]) => k === "tag"),
        ),
        fc.array(valueArb, { minLength: 2, maxLength: 4 }),
        (r, values) => {
          const given = { ...r, params: [...r.params, ...values.map((v) => ["tag", v] as [string, string])] };
          assert.equal(verify(given, sign(given)).ok, true);
          const sortedValues = values
            .map((v) => percentEncode(v))
            .map((e, i) => ({ e, v: values[i]! }))
            .sort((a, b) => (a.e < b.e ? -1 : a.e > b.e ? 1 : 0))
            .map((x) => x.v);
          const pythonSigned = {
            ...r,
            params: [...r.params, ...sortedValues.map((v) => ["tag", v] as [string, string])],
          };
          // Python sorts the values before signing but sends them in the caller's order.
          assert.equal(verify(given, sign(pythonSigned)).ok, true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

/** Independent of parseRequestDate: reads the `formatDate` output back. */
function parseDateIndependently(text: string): number {
  const m = /(\d{2}) (\w{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|[+-]\d{4})$/.exec(text)!;
  const utc = Date.UTC(
    Number(m[3]),
    MONTHS.indexOf(m[2]!),
    Number(m[1]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  );
  if (m[7] === "GMT") return utc;
  const sign = m[7]![0] === "-" ? -1 : 1;
  return utc - sign * (Number(m[7]!.slice(1, 3)) * 60 + Number(m[7]!.slice(3, 5))) * 60_000;
}

describe("the real client: @duosecurity/duo_api lib/duo_sig (H-5 differential)", () => {
  /** A params object as duo_api takes it: a string, or an array of strings for a repeated name. */
  const clientParamsArb = (names: fc.Arbitrary<string>) =>
    fc
      .array(fc.tuple(names, fc.oneof(valueArb, fc.array(valueArb, { minLength: 1, maxLength: 3 }))), {
        maxLength: 8,
      })
      .map((entries) => {
        const params: Record<string, string | string[]> = Object.create(null);
        for (const [k, v] of entries) params[k] = v;
        return params;
      });

  /** What duo_api's apiCall puts on the wire (main.js: querystring.stringify), decoded as a server would. */
  function wirePairs(params: Record<string, string | string[]>): Array<[string, string]> {
    return [...new URLSearchParams(stringifyQuery(params))];
  }

  function checkClient(
    version: 2 | 5,
    method: string,
    host: string,
    path: string,
    params: Record<string, string | string[]>,
    skew: number,
  ): SignatureCheck {
    const date = new Date(NOW + skew).toUTCString();
    // duo_api main.js: with sigVersion 5 a POST sends its parameters as a JSON body and signs an empty params line.
    const json = version === 5 && method === "POST";
    const body = json ? JSON.stringify(params) : "";
    const signed = json ? {} : params;
    const header =
      version === 2
        ? duoSig.sign(IKEY, SKEY, method, host, path, signed, date)
        : duoSig.signV5(IKEY, SKEY, method, host, path, signed, date, body);
    return verifyDuoSignature(
      {
        method,
        path,
        hosts: [host],
        date,
        params: json ? [] : wirePairs(params),
        jsonBody: json ? new TextEncoder().encode(body) : null,
        headers: [
          ["date", date],
          ["host", host],
          ["user-agent", "duo_api_nodejs/1.5.0"],
        ],
        allowUndated: false,
      },
      credentialsOf(header),
      new Secret(SKEY),
      NOW,
    );
  }

  // Every name Duo's APIs define is lowercase ASCII, digits and `_`; values carry anything a user can type.
  const duoNameArb = fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/);

  test("sign (v2) and signV5 over Duo-style names and arbitrary values verify", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<2 | 5>(2, 5),
        fc.constantFrom("GET", "POST", "DELETE"),
        hostArb,
        pathArb,
        clientParamsArb(duoNameArb),
        fc.integer({ min: -299_000, max: 299_000 }),
        (version, method, host, path, params, skew) => {
          const check = checkClient(version, method, host, path, params, skew);
          assert.equal(check.ok, true, JSON.stringify(check));
          assert.equal(check.ok && check.variant, version === 2 ? "v2" : "v5");
        },
      ),
      { numRuns: 500 },
    );
  });

  // duo_sig.js canonParams sorts the *raw* names by UTF-16 code unit, and only then percent-encodes; §1.5 step 4
  // sorts by the *encoded* name. The orders differ as soon as a name holds a character that is encoded and sorts
  // after an unreserved one, e.g. {"ab":"1","a{":"2"}: Node signs `ab=1&a%7B=2`. The verifier builds both orders.
  test("sign (v2) and signV5 over arbitrary names verify", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<2 | 5>(2, 5),
        fc.constantFrom("GET", "DELETE"),
        clientParamsArb(nameArb.filter((n) => n !== "__proto__")),
        (version, method, params) => {
          assert.equal(checkClient(version, method, "api.example.org", "/auth/v2/check", params, 0).ok, true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Mutations (K1): every byte of the signature and of the canonical fields matters.
// ---------------------------------------------------------------------------------------------------------

interface Mutated {
  what: string;
  request: Request;
  signature: string;
}

/** Replace the code point at `index % length` (or insert one into an empty string) with a different one. */
function replaceCodePoint(text: string, index: number, replacement: string): string {
  const points = Array.from(text);
  if (points.length === 0) return replacement;
  const i = index % points.length;
  points[i] = points[i] === replacement ? `${replacement}x` : replacement;
  return points.join("");
}

const HEX_DIGITS = "0123456789abcdef";
const HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-.";

function mutationArb(r: Request, signature: string): fc.Arbitrary<Mutated> {
  const pick = fc.nat({ max: 10_000 });
  const options: Array<fc.Arbitrary<Mutated>> = [];
  const m = (what: string, changes: Partial<Request>, sig = signature): Mutated => ({
    what,
    request: { ...r, ...changes },
    signature: sig,
  });

  options.push(
    fc
      .tuple(pick, fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
      .map(([i, c]) => m("method", { method: replaceCodePoint(r.method, i, c) })),
    // Host: a different character, never just a different case (case is not significant, §1.4).
    fc
      .tuple(pick, fc.constantFrom(...HOST_CHARS))
      .filter(([i, c]) => r.host[i % r.host.length]!.toLowerCase() !== c)
      .map(([i, c]) =>
        m("host", { host: r.host.slice(0, i % r.host.length) + c + r.host.slice((i % r.host.length) + 1) }),
      ),
    fc
      .tuple(pick, fc.constantFrom(..."abcXYZ019-._~/%;"))
      .map(([i, c]) => m("path", { path: replaceCodePoint(r.path, i, c) })),
    fc.constant(m("path (trailing slash)", { path: `${r.path}/` })),
    fc.tuple(nameArb, valueArb).map((p) => m("parameter added", { params: [...r.params, p] })),
    fc.tuple(pick, fc.constantFrom(..."0123456789abcdef")).map(([i, c]) => {
      const hex = signature.split("");
      const at = i % hex.length;
      hex[at] = hex[at] === c ? HEX_DIGITS[(HEX_DIGITS.indexOf(c) + 1) % 16]! : c;
      return m("signature digit", {}, hex.join(""));
    }),
  );
  if (r.params.length > 0) {
    options.push(
      pick.map((i) =>
        m("parameter removed", { params: r.params.filter((_, j) => j !== i % r.params.length) }),
      ),
      fc.tuple(pick, pick, fc.boolean(), unitArb).map(([p, i, name, c]) => {
        const params = r.params.map((x) => [...x] as [string, string]);
        const target = params[p % params.length]!;
        target[name ? 0 : 1] = replaceCodePoint(target[name ? 0 : 1], i, c);
        return m(name ? "parameter name" : "parameter value", { params });
      }),
    );
  }
  if (r.date !== null) {
    options.push(
      fc
        .tuple(pick, fc.constantFrom(..."0123456789 :,+-AZaz"))
        .map(([i, c]) => m("date", { date: replaceCodePoint(r.date!, i, c) })),
      fc.constant(m("date removed", { date: null })),
    );
  }
  if (r.variant === "v4" || r.variant === "v5") {
    if (r.jsonBody !== null) {
      options.push(
        fc.tuple(pick, fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
          const bytes = Buffer.from(r.jsonBody!, "utf8");
          if (bytes.length === 0) return m("JSON body", { jsonBody: " " });
          bytes[i % bytes.length]! ^= x;
          return m("JSON body byte", { jsonBody: bytes.toString("latin1") });
        }),
        fc.constant(m("JSON body appended", { jsonBody: `${r.jsonBody} ` })),
      );
    } else options.push(fc.constant(m("JSON body added", { jsonBody: "{}" })));
  }
  if (r.variant === "v5") {
    options.push(
      fc
        .tuple(fc.stringMatching(/^x-duo-[a-z]{1,8}$/), fc.string({ unit: "grapheme-ascii", maxLength: 8 }))
        .filter(([k]) => k !== "x-duo-date" && !r.duoHeaders.some(([n]) => n.toLowerCase() === k))
        .map((h) => m("X-Duo header added", { duoHeaders: [...r.duoHeaders, h] })),
    );
    if (r.duoHeaders.length > 0)
      options.push(
        pick.map((i) =>
          m("X-Duo header removed", {
            duoHeaders: r.duoHeaders.filter((_, j) => j !== i % r.duoHeaders.length),
          }),
        ),
        fc.tuple(pick, pick, fc.constantFrom(..."aZ0 -_")).map(([h, i, c]) => {
          const duoHeaders = r.duoHeaders.map((x) => [...x] as [string, string]);
          const target = duoHeaders[h % duoHeaders.length]!;
          target[1] = replaceCodePoint(target[1], i, c);
          return m("X-Duo header value", { duoHeaders });
        }),
      );
  }
  return fc.oneof(...options);
}

/** A JSON body byte flip may leave invalid UTF-8: hash the raw bytes as the server would. */
function partsWithRawBody(r: Request): SignedRequestParts {
  const parts = partsOf(r);
  return r.jsonBody === null
    ? parts
    : { ...parts, jsonBody: new Uint8Array(Buffer.from(r.jsonBody, "latin1")) };
}

describe("any single change refuses (K1)", () => {
  test("method, host (not case), path, a parameter, the body, the date, an X-Duo header or a digest digit", () => {
    fc.assert(
      fc.property(
        requestArb().chain((r) => {
          const signature = sign(r);
          return fc.record({ original: fc.constant(r), mutated: mutationArb(r, signature) });
        }),
        ({ mutated }) => {
          const { request, signature, what } = mutated;
          const parts = what.startsWith("JSON body byte") ? partsWithRawBody(request) : partsOf(request);
          const check = verifyDuoSignature(
            parts,
            credentialsOf(authorization(IKEY, signature)),
            new Secret(SKEY),
            NOW,
          );
          assert.equal(check.ok, false, `${what} was accepted`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("the host's case alone does not matter (§1.4)", () => {
    fc.assert(
      fc.property(requestArb(), fc.boolean(), (r, upper) => {
        const recased = { ...r, host: upper ? r.host.toUpperCase() : r.host.toLowerCase() };
        assert.equal(verify(recased, sign(r)).ok, true);
      }),
      { numRuns: 100 },
    );
  });

  test("the wrong secret refuses every variant", () => {
    fc.assert(
      fc.property(requestArb(), (r) => {
        assert.deepEqual(verify(r, sign(r, `${SKEY.slice(0, -1)}x`)), {
          ok: false,
          problem: "bad_signature",
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe("dates (K2, §1.3)", () => {
  test("a valid signature dated more than ±300 s away is skewed_date", () => {
    const far = fc.oneof(
      fc.integer({ min: 301_000, max: 30 * 86_400_000 }),
      fc.integer({ min: -30 * 86_400_000, max: -301_000 }),
    );
    fc.assert(
      fc.property(requestArb({ variants: ["v2-SHA1", "v2-SHA512", "v4", "v5"], skew: far }), (r) => {
        assert.deepEqual(verify(r, sign(r)), { ok: false, problem: "skewed_date" });
      }),
      { numRuns: 300 },
    );
  });

  test("the window is ±300 s inclusive", () => {
    const at = Date.UTC(2026, 10, 22, 12, 0, 0);
    const r: Request = {
      variant: "v2-SHA512",
      method: "GET",
      host: "api.example.org",
      path: "/auth/v2/check",
      params: [],
      date: formatDate(at, "GMT"),
      dateHeader: "date",
      jsonBody: null,
      duoHeaders: [],
      allowUndated: false,
    };
    const sig = sign(r);
    assert.equal(verify(r, sig, at + 300_000).ok, true);
    assert.equal(verify(r, sig, at - 300_000).ok, true);
    assert.deepEqual(verify(r, sig, at + 300_001), { ok: false, problem: "skewed_date" });
    assert.deepEqual(verify(r, sig, at - 300_001), { ok: false, problem: "skewed_date" });
  });

  test("an unparsable date is bad_date, even under a valid signature", () => {
    const junk = fc.oneof(
      fc.constantFrom(
        "",
        "2026-11-22T12:00:00Z",
        "1795348800",
        "Sun, 22 Nov 2026 12:00:00",
        "Sun, 22 Nov 26 12:00:00 GMT",
        "Sun, 22 Nov 2026 12:00 GMT",
        "So, 22 Nov. 2026 12:00:00 MEZ",
        "Sun, 22 Foo 2026 12:00:00 GMT",
        "Tue, 31 Feb 2026 12:00:00 GMT",
        "Sun, 22 Nov 2026 25:00:00 GMT",
        "Sun, 22 Nov 2026 12:60:00 GMT",
        "Sun, 22 Nov 2026 12:00:00 +2400",
        "Sun, 22 Nov 2026 12:00:00 GMT ",
        " Sun, 22 Nov 2026 12:00:00 GMT",
        "Sun,  22 Nov 2026 12:00:00 GMT",
        "Sun, 22 Nov 2026 12:00:00 gmt",
      ),
      fc.string({ maxLength: 40 }).filter((s) => !/\d{2}:\d{2}:\d{2}/.test(s)),
    );
    fc.assert(
      fc.property(requestArb({ variants: ["v2-SHA1", "v2-SHA512", "v4", "v5"] }), junk, (r, date) => {
        const dated = { ...r, date };
        assert.deepEqual(verify(dated, sign(dated)), { ok: false, problem: "bad_date" });
      }),
      { numRuns: 300 },
    );
  });

  test("an undated (L) signature is refused where undated requests are not allowed", () => {
    fc.assert(
      fc.property(requestArb({ variants: ["L-SHA1", "L-SHA512"] }), (r) => {
        assert.deepEqual(verify({ ...r, allowUndated: false }, sign(r)), { ok: false, problem: "bad_date" });
      }),
      { numRuns: 200 },
    );
  });
});

describe("parseDuoAuthorization (§1.1)", () => {
  test("never throws on random text; anything it accepts is well formed", () => {
    const headerArb = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.string().map((s) => `Basic ${s}`),
      fc.string({ unit: fc.constantFrom(..."ABCDEFabcdef0123456789+/=: ") }).map((s) => `Basic ${s}`),
    );
    fc.assert(
      fc.property(headerArb, (header) => {
        const parsed = parseDuoAuthorization(header);
        if (!parsed.ok) return;
        const { ikey, signature, algorithm } = parsed.credentials;
        assert.match(ikey, /^[A-Z0-9]{20}$/);
        assert.match(signature, /^(?:[0-9a-f]{40}|[0-9a-f]{128})$/);
        assert.equal(algorithm, signature.length === 40 ? "SHA1" : "SHA512");
      }),
      { numRuns: 2000 },
    );
  });

  test("base64 of random bytes is accepted exactly when it decodes to IKEY:hex40|hex128", () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      // Near misses: the right shape with one part off.
      fc
        .tuple(
          fc.stringMatching(/^[A-Za-z0-9]{19,21}$/),
          fc.constantFrom(":", ";", "", "::"),
          fc.stringMatching(/^[0-9a-fA-FxX]{38,42}$|^[0-9a-fA-FgG]{126,130}$/),
        )
        .map(([a, b, c]) => new Uint8Array(Buffer.from(`${a}${b}${c}`, "latin1"))),
    );
    fc.assert(
      fc.property(bytesArb, fc.constantFrom("Basic ", "basic ", "BASIC "), (bytes, scheme) => {
        const header = `${scheme}${Buffer.from(bytes).toString("base64")}`;
        const text = Buffer.from(bytes).toString("latin1");
        const wellFormed = /^[A-Z0-9]{20}:(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{128})$/.test(text);
        const parsed = parseDuoAuthorization(header);
        assert.equal(parsed.ok, wellFormed, `${JSON.stringify(text)} → ${JSON.stringify(parsed)}`);
        if (!parsed.ok) assert.equal(parsed.problem, "malformed");
      }),
      { numRuns: 2000 },
    );
  });

  test("well-formed headers round-trip: ikey as sent, digest lowercased, hash chosen by length", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z0-9]{20}$/),
        fc.oneof(
          fc.uint8Array({ minLength: 20, maxLength: 20 }),
          fc.uint8Array({ minLength: 64, maxLength: 64 }),
        ),
        fc.boolean(),
        fc.constantFrom("", " ", "\t"),
        (ikey, digest, upper, space) => {
          const hex = Buffer.from(digest).toString("hex");
          const header = `${space}Basic ${Buffer.from(`${ikey}:${upper ? hex.toUpperCase() : hex}`).toString("base64")}${space}`;
          assert.deepEqual(parseDuoAuthorization(header), {
            ok: true,
            credentials: { ikey, signature: hex, algorithm: digest.length === 20 ? "SHA1" : "SHA512" },
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  test("missing and malformed are told apart", () => {
    for (const header of [undefined, "", "   "])
      assert.deepEqual(parseDuoAuthorization(header), { ok: false, problem: "missing" });
    const ok = Buffer.from(`${IKEY}:${"a".repeat(40)}`).toString("base64");
    for (const header of [
      "Basic",
      `Bearer ${ok}`,
      `Basic${ok}`,
      `Basic  ${ok}`,
      `Basic ${ok}!`,
      `Basic ${Buffer.from(`${IKEY.toLowerCase()}:${"a".repeat(40)}`).toString("base64")}`,
      `Basic ${Buffer.from(`${IKEY}:${"a".repeat(64)}`).toString("base64")}`,
      `Basic ${Buffer.from(`${IKEY}:${"g".repeat(40)}`).toString("base64")}`,
      `Basic ${Buffer.from(`${IKEY}${"a".repeat(40)}`).toString("base64")}`,
      `Basic ${Buffer.from(`${IKEY}:${"a".repeat(40)}:`).toString("base64")}`,
    ])
      assert.deepEqual(parseDuoAuthorization(header), { ok: false, problem: "malformed" }, header);
  });
});

describe("parseRequestDate (§1.3)", () => {
  const instant = Date.UTC(2026, 10, 22, 18, 51, 27);

  test("every client format parses to the same instant", () => {
    for (const text of [
      "Sun, 22 Nov 2026 18:51:27 GMT",
      "Sun, 22 Nov 2026 18:51:27 -0000",
      "Sun, 22 Nov 2026 18:51:27 +0000",
      "Sun, 22 Nov 2026 13:51:27 -0500",
      "Mon, 23 Nov 2026 00:21:27 +0530",
      "22 Nov 2026 18:51:27 GMT",
      new Date(instant).toUTCString(),
    ])
      assert.equal(parseRequestDate(text), instant, text);
  });

  test("impossible calendar values are refused", () => {
    for (const text of [
      "Tue, 31 Feb 2026 10:00:00 GMT",
      "Sun, 29 Feb 2026 10:00:00 GMT",
      "Sun, 31 Nov 2026 10:00:00 GMT",
      "Sun, 00 Nov 2026 10:00:00 GMT",
      "Sun, 22 Nov 2026 25:00:00 GMT",
      "Sun, 22 Nov 2026 24:00:00 GMT",
      "Sun, 22 Nov 2026 10:60:00 GMT",
      "Sun, 22 Nov 2026 10:00:61 GMT",
      "Sun, 22 Foo 2026 10:00:00 GMT",
      "Sun, 22 Nov 2026 10:00:00 +2400",
      "Sun, 22 Nov 2026 10:00:00 +0060",
      "Sun, 22 Nov 2026 10:00:00",
      "Sun, 22 Nov 2026 10:00:00 EST",
      "2026-11-22T10:00:00Z",
    ])
      assert.equal(parseRequestDate(text), undefined, text);
    assert.equal(parseRequestDate("Tue, 29 Feb 2028 10:00:00 GMT"), Date.UTC(2028, 1, 29, 10, 0, 0));
  });

  test("any instant in any zone round-trips (to the second)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2099, 11, 31) }),
        zoneArb,
        fc.boolean(),
        (ms, zone, weekday) => {
          assert.equal(parseRequestDate(formatDate(ms, zone, weekday)), Math.floor(ms / 1000) * 1000);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
