// Duo request signing (duo-compat §1): parse the Authorization header and date, build every canonical-request variant, verify in constant time.
import {
  equalBytesSameLength,
  type HashAlgorithm,
  type HmacKey,
  hmacDigest,
  prepareHmacKey,
  sha512Hex,
} from "./crypto/index.ts";
import type { Secret } from "./secret.ts";

/** The canonical-request variants of duo-compat §1.2. */
export type SignatureVariant = "L" | "v2" | "v4" | "v5";

/** The largest allowed difference between a request's date and our clock (K2; Duo's mock uses the same). */
export const SIGNATURE_WINDOW_MS = 300_000;

/** `Authorization: Basic base64(ikey:hexdigest)` (§1.1). */
export interface DuoCredentials {
  ikey: string;
  /** The hex digest as sent, lowercased. */
  signature: string;
  algorithm: Extract<HashAlgorithm, "SHA1" | "SHA512">;
}

/** Why a request's credentials are refused; each maps to one Duo error code in the HTTP layer (§1.7). */
export type CredentialProblem = "missing" | "malformed" | "bad_date" | "skewed_date" | "bad_signature";

const IKEY = /^[A-Z0-9]{20}$/;
const HEX = /^[0-9a-fA-F]+$/;

/** Parse the header strictly: anything but `Basic` + base64 of `IKEY:hex` (40 or 128 digits) is malformed. */
export function parseDuoAuthorization(
  header: string | undefined,
): { ok: true; credentials: DuoCredentials } | { ok: false; problem: "missing" | "malformed" } {
  if (header === undefined || header.trim() === "") return { ok: false, problem: "missing" };
  const m = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  if (!m) return { ok: false, problem: "malformed" };
  const decoded = Buffer.from(m[1]!, "base64").toString("latin1");
  const colon = decoded.indexOf(":");
  if (colon === -1) return { ok: false, problem: "malformed" };
  const ikey = decoded.slice(0, colon);
  const signature = decoded.slice(colon + 1);
  if (!IKEY.test(ikey) || !HEX.test(signature)) return { ok: false, problem: "malformed" };
  const algorithm = signature.length === 40 ? "SHA1" : signature.length === 128 ? "SHA512" : undefined;
  if (!algorithm) return { ok: false, problem: "malformed" };
  return { ok: true, credentials: { ikey, signature: signature.toLowerCase(), algorithm } };
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
/** RFC 5322 §3.3 date-time as the clients write it: `Sun, 22 Nov 2026 18:51:27 GMT|-0000|+0100`. */
const RFC5322_DATE =
  /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|UTC|UT|[+-]\d{4})$/;

/**
 * duo_unix 2.1–2.2.3 writes its date with `strftime("%a, %d %b %Y %T %z")` in the process locale (duo-compat
 * §1.3), and pam_duo inherits the locale of the program that loads it (GDM, login, su, sudo call setlocale), so
 * `%a` and `%b` may be localised: `Mi, 18 Nov 2026 13:51:27 -0500`, `mer., 18 nov. 2026 …`, `三, 18 11月 2026 …`.
 * The weekday is ignored; the month must be one of these abbreviations, exactly as glibc 2.36 writes `%b` for the
 * locales named (compared case-insensitively, without a trailing dot). A month must be known, not guessed from the
 * server's clock: a date whose month could be any month would let a captured request be sent again a month later.
 * Locales whose abbreviations would clash with these (Croatian `lis` is October, Czech `lis` November) are left
 * out, and CJK locales write the month as a number (` 1月`, `11월`), read below.
 */
const LOCALISED_MONTHS: ReadonlyArray<readonly string[]> = [
  // en, de (de_DE/AT/CH), fr (fr_FR/CA/BE), es, it, pt, nl, sv/da/nb, fi, pl, cs, sk, hu, ro, tr, ru, uk, el, he
  ["jan", "jän", "janv", "ene", "gen", "tammi", "sty", "led", "ian", "oca", "янв", "січ", "ιαν", "ינו"],
  ["feb", "févr", "fév", "fev", "helmi", "lut", "úno", "febr", "şub", "фев", "лют", "φεβ", "פבר"],
  ["mar", "mär", "mars", "mrt", "maalis", "bře", "márc", "мар", "бер", "μαρ", "מרץ"],
  ["apr", "april", "avril", "avr", "abr", "huhti", "kwi", "dub", "ápr", "nis", "апр", "кві", "απρ", "אפר"],
  ["may", "mai", "mag", "mei", "maj", "máj", "touko", "kvě", "мая", "май", "тра", "μαΐ", "מאי"],
  ["jun", "juin", "giu", "juni", "kesä", "cze", "čen", "jún", "iun", "haz", "июн", "чер", "ιουν", "יונ"],
  [
    "jul",
    "juil",
    "jui",
    "lug",
    "juli",
    "heinä",
    "lip",
    "čec",
    "júl",
    "iul",
    "tem",
    "июл",
    "лип",
    "ιουλ",
    "יול",
  ],
  ["aug", "août", "aoû", "ago", "elo", "sie", "srp", "ağu", "авг", "сер", "αυγ", "אוג"],
  ["sep", "sept", "set", "syys", "wrz", "zář", "szept", "eyl", "сен", "вер", "σεπ", "ספט"],
  ["oct", "okt", "ott", "out", "loka", "paź", "říj", "eki", "окт", "жов", "οκτ", "אוק"],
  ["nov", "marras", "lis", "kas", "ноя", "лис", "νοε", "נוב"],
  ["dec", "dez", "déc", "dic", "des", "joulu", "gru", "pro", "ara", "дек", "гру", "δεκ", "דצמ"],
];

const MONTH_BY_NAME: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  LOCALISED_MONTHS.forEach((names, month) => {
    for (const name of names) {
      if (map.has(name) && map.get(name) !== month) throw new Error(`month name ${name} is ambiguous`);
      map.set(name, month);
    }
  });
  return map;
})();

/** The month a `%b` abbreviation names, or undefined. Exported for the table's own tests. */
export function monthOfAbbreviation(name: string): number | undefined {
  const numeric = /^(\d{1,2})(?:月|월)$/u.exec(name);
  if (numeric) {
    const n = Number(numeric[1]);
    return n >= 1 && n <= 12 ? n - 1 : undefined;
  }
  return MONTH_BY_NAME.get(name.toLowerCase().replace(/\.$/, ""));
}

/** `%a, %d %b %Y %T %z` in any locale: a weekday word, two-digit day, month word (CJK: padded number), numeric offset. */
const STRFTIME_DATE = /^[^\s,]{1,16}, (\d{2}) +(\S{1,16}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})$/u;

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function highestCharCode(text: string): number {
  let highest = 0;
  for (let i = 0; i < text.length; i++) highest = Math.max(highest, text.charCodeAt(i));
  return highest;
}

/**
 * A header value as Node hands it over (each byte one character, latin1) read as text: UTF-8 when the bytes are
 * valid UTF-8 (every UTF-8 locale), else ISO-8859-1 (the legacy `de_DE`, `fr_FR` locales).
 */
function headerText(value: string): string {
  const highest = highestCharCode(value);
  if (highest < 0x80 || highest > 0xff) return value;
  try {
    return UTF8.decode(Buffer.from(value, "latin1"));
  } catch {
    return value;
  }
}

/**
 * Parse a `Date`/`X-Duo-Date` value strictly (K2): RFC 5322 as the SDKs write it, or duo_unix 2.1–2.2.3's
 * localised `strftime` (see {@link LOCALISED_MONTHS}); real calendar values and an explicit zone either way.
 * Returns epoch milliseconds, or undefined for anything else. The string itself is signed verbatim; this only
 * checks it.
 */
export function parseRequestDate(value: string): number | undefined {
  const rfc = RFC5322_DATE.exec(value);
  if (rfc) {
    const [, d, mon, y, hh, mm, ss, zone] = rfc;
    return toEpoch(Number(y), MONTHS.indexOf(mon!.toLowerCase()), d!, hh!, mm!, ss!, zone!);
  }
  const local = STRFTIME_DATE.exec(headerText(value));
  if (!local) return undefined;
  const [, d, mon, y, hh, mm, ss, zone] = local;
  const month = monthOfAbbreviation(mon!);
  return month === undefined ? undefined : toEpoch(Number(y), month, d!, hh!, mm!, ss!, zone!);
}

function toEpoch(
  year: number,
  month: number,
  d: string,
  hh: string,
  mm: string,
  ss: string,
  zone: string,
): number | undefined {
  const day = Number(d);
  const hour = Number(hh);
  const minute = Number(mm);
  const second = Number(ss);
  if (month === -1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const utc = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  if (new Date(utc).getUTCDate() !== day) return undefined;
  let offsetMinutes = 0;
  if (zone.startsWith("+") || zone.startsWith("-")) {
    const h = Number(zone.slice(1, 3));
    const min = Number(zone.slice(3, 5));
    if (h > 23 || min > 59) return undefined;
    offsetMinutes = (zone[0] === "-" ? -1 : 1) * (h * 60 + min);
  }
  return utc - offsetMinutes * 60_000;
}

const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

/**
 * Percent-encode for the canonical params line (§1.5 step 3): RFC 3986 unreserved characters stay, every other
 * UTF-8 byte becomes %XX with uppercase hex (encodeURIComponent leaves `!'()*` alone, so those are added).
 */
export function encodeCanonical(value: string): string {
  if (UNRESERVED.test(value)) return value;
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The params line (§1.5 steps 3-5) for decoded name/value pairs. Pairs are sorted by encoded name (`encoded`, as
 * Python and duo_unix sign) or by the name before encoding (`raw`, as Node's duo_api sorts: the two differ only for
 * names with characters outside [A-Za-z0-9-._~]); values of a repeated name keep their order (`given`, Node) or are
 * sorted too (`sorted`, Python).
 */
export function canonicalParams(
  pairs: ReadonlyArray<readonly [string, string]>,
  repeated: "given" | "sorted" = "given",
  names: "encoded" | "raw" = "encoded",
): string {
  return joinParams(encodePairs(pairs), repeated, names);
}

interface EncodedPair {
  k: string;
  v: string;
  raw: string;
  i: number;
}

function encodePairs(pairs: ReadonlyArray<readonly [string, string]>): EncodedPair[] {
  return pairs.map(([k, v], i) => ({ k: encodeCanonical(k), v: encodeCanonical(v), raw: k, i }));
}

function joinParams(
  pairs: readonly EncodedPair[],
  repeated: "given" | "sorted",
  names: "encoded" | "raw",
): string {
  const encoded = [...pairs];
  encoded.sort((a, b) => {
    const [x, y] = names === "raw" ? [a.raw, b.raw] : [a.k, b.k];
    if (x !== y) return x < y ? -1 : 1;
    if (repeated === "sorted" && a.v !== b.v) return a.v < b.v ? -1 : 1;
    return a.i - b.i;
  });
  return encoded.map((p) => `${p.k}=${p.v}`).join("&");
}

/**
 * The distinct params lines of {@link canonicalParams}'s three orders, each built once: the `sorted` order differs
 * from `given` only when a name repeats, and the `raw` order from `encoded` only when a name has a character that
 * encoding changes.
 */
function paramLines(pairs: ReadonlyArray<readonly [string, string]>): string[] {
  const encoded = encodePairs(pairs);
  const lines = [joinParams(encoded, "given", "encoded")];
  if (encoded.length < 2) return lines;
  const names = new Set<string>();
  let repeats = false;
  let rawDiffers = false;
  for (const p of encoded) {
    if (names.has(p.raw)) repeats = true;
    names.add(p.raw);
    if (p.k !== p.raw) rawDiffers = true;
  }
  if (repeats) lines.push(joinParams(encoded, "sorted", "encoded"));
  if (rawDiffers) lines.push(joinParams(encoded, "given", "raw"));
  return [...new Set(lines)];
}

/** The SHA-512 of nothing: the v4/v5 body line of a request without a body, and the v5 header line without headers. */
const EMPTY_SHA512 = sha512Hex("");

function isSignedDuoHeader(lowercaseName: string): boolean {
  return lowercaseName.startsWith("x-duo-") && lowercaseName !== "x-duo-date";
}

/**
 * The v5 header line (§1.2): extra `X-Duo-*` headers (not the date), names lowercased and sorted, names and
 * values alternately joined by NUL, SHA-512 hex. With no such headers this is the hash of the empty string.
 */
export function canonicalDuoHeaders(headers: ReadonlyArray<readonly [string, string]>): string {
  if (!headers.some(([k]) => isSignedDuoHeader(k.toLowerCase()))) return EMPTY_SHA512;
  const list = headers
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .filter(([k]) => isSignedDuoHeader(k))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return sha512Hex(list.flat().join("\u0000"));
}

/** What was received, as the verifier needs it. */
export interface SignedRequestParts {
  method: string;
  /** The path exactly as requested, without the query string. */
  path: string;
  /** Host-line candidates (§1.4): the configured API host, the Host header, the Host header without its port. */
  hosts: readonly string[];
  /** `X-Duo-Date`, else `Date`, verbatim; null when neither was sent. */
  date: string | null;
  /** Decoded parameters in wire order: the query for GET/DELETE and JSON requests, else the form body. */
  params: ReadonlyArray<readonly [string, string]>;
  /** The raw body of a JSON request (v4/v5 hash it as received); null for form requests. */
  jsonBody: Uint8Array | null;
  /** Every request header, for the v5 `X-Duo-*` line. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** Whether the undated legacy variant is acceptable here (only the paths its clients use). */
  allowUndated: boolean;
}

export type SignatureCheck =
  | { ok: true; variant: SignatureVariant; algorithm: DuoCredentials["algorithm"]; signedAt: number | null }
  | { ok: false; problem: Exclude<CredentialProblem, "missing" | "malformed"> };

/** HMAC keys prepared once per opened secret (the caller keeps one Secret per application version). */
const preparedKeys = new WeakMap<Secret<string>, HmacKey>();

function hmacKeyOf(secret: Secret<string>): HmacKey {
  let key = preparedKeys.get(secret);
  if (key === undefined) {
    key = prepareHmacKey(secret.reveal());
    preparedKeys.set(secret, key);
  }
  return key;
}

interface DigestCheck {
  algorithm: DuoCredentials["algorithm"];
  key: HmacKey;
  /** The signature as sent, decoded from hex. */
  given: Uint8Array;
  /** The date's bytes as sent when they are not ASCII (see verifyDuoSignature), else null. */
  dateBytes: Buffer | null;
  dateLength: number;
}

/** Whether one candidate canonical string's digest equals the signature given, compared in constant time. */
function digestMatches(check: DigestCheck, text: string, dated: boolean): boolean {
  const message =
    dated && check.dateBytes !== null
      ? Buffer.concat([check.dateBytes, Buffer.from(text.slice(check.dateLength), "utf8")])
      : text;
  const expected = hmacDigest(check.algorithm, check.key, message);
  return expected.length === check.given.length && equalBytesSameLength(expected, check.given);
}

/**
 * Verify a Duo-signed request (§1.2-§1.5, K1, K2). The candidate canonical strings for the signature's hash are
 * tried in turn, the most common first (v5 for SHA-512, v2 for SHA-1), each digest compared in constant time, and
 * the first match ends the search. A signature that matches nothing has been compared with every candidate, so its
 * timing depends on the request alone (public), never on the key or on which line differed; a signature that
 * matches tells by its timing only which variant it is, which its sender chose. A dated request must be within the
 * window; an undated one only matches variant L.
 */
export function verifyDuoSignature(
  parts: SignedRequestParts,
  credentials: DuoCredentials,
  secret: Secret<string>,
  now: number,
): SignatureCheck {
  let signedAt: number | null = null;
  if (parts.date !== null) {
    const at = parseRequestDate(parts.date);
    if (at === undefined) return { ok: false, problem: "bad_date" };
    signedAt = at;
  } else if (!parts.allowUndated) return { ok: false, problem: "bad_date" };

  const method = parts.method.toUpperCase();
  const hosts = [...new Set(parts.hosts.map((h) => h.toLowerCase()).filter((h) => h !== ""))];
  const lines = paramLines(parts.params);
  const sha512 = credentials.algorithm === "SHA512";
  // v4 and v5 lines: the body's hash and the canonical headers, the same for every host and parameter line.
  const bodyHash =
    parts.date !== null && sha512
      ? parts.jsonBody === null || parts.jsonBody.length === 0
        ? EMPTY_SHA512
        : sha512Hex(parts.jsonBody)
      : "";
  const headerLine = bodyHash === "" ? "" : canonicalDuoHeaders(parts.headers);
  const key = hmacKeyOf(secret);
  // Node reads header bytes as latin1, one character per byte. A localised date (duo_unix 2.1–2.2.3) is signed as
  // the bytes the client wrote, e.g. UTF-8 `Mär`, so those bytes, not the UTF-8 of the characters, go in the HMAC.
  const highest = parts.date === null ? 0 : highestCharCode(parts.date);
  const dateBytes = highest >= 0x80 && highest <= 0xff ? Buffer.from(parts.date!, "latin1") : null;
  // The digest's length follows from the algorithm (public): a signature of another length matches nothing, and
  // one of the same length is compared byte for byte in constant time.
  const given = Buffer.from(credentials.signature, "hex");
  const check: DigestCheck = {
    algorithm: credentials.algorithm,
    key,
    given,
    dateBytes,
    dateLength: parts.date?.length ?? 0,
  };
  let matched: SignatureVariant | undefined;
  search: for (const host of hosts) {
    for (const params of lines) {
      const undated = `${method}\n${host}\n${parts.path}\n${params}`;
      if (parts.date !== null) {
        const dated = `${parts.date}\n${undated}`;
        if (sha512) {
          if (digestMatches(check, `${dated}\n${bodyHash}\n${headerLine}`, true)) {
            matched = "v5";
            break search;
          }
          if (parts.jsonBody !== null && digestMatches(check, `${dated}\n${bodyHash}`, true)) {
            matched = "v4";
            break search;
          }
        }
        // L and v2 do not cover a body: a JSON body must be signed by v4 or v5, whose lines hash it.
        if (parts.jsonBody === null && digestMatches(check, dated, true)) {
          matched = "v2";
          break search;
        }
      }
      if (parts.allowUndated && parts.jsonBody === null && digestMatches(check, undated, false)) {
        matched = "L";
        break search;
      }
    }
  }
  if (!matched) return { ok: false, problem: "bad_signature" };
  if (signedAt !== null && Math.abs(now - signedAt) > SIGNATURE_WINDOW_MS)
    return { ok: false, problem: "skewed_date" };
  return { ok: true, variant: matched, algorithm: credentials.algorithm, signedAt };
}
