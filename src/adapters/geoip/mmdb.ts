// GeoIP place for push context: a MaxMind DB (.mmdb) reader written to the MaxMind DB File Format Specification v2.0.

// Spec: https://maxmind.github.io/MaxMind-DB/ (section names are cited below as "spec §…").
// The whole file is read into memory once at open (GeoLite2 City is ~70 MB): lookups then touch no
// file descriptor, and a file replaced on disk while the server runs cannot be half-read.
//
// The file is untrusted input. Every read is bounds-checked against its section, a pointer may not
// point at a pointer (spec §pointer), nesting and the number of fields one decode may visit are
// capped, and the tree walk takes at most one step per address bit, so a corrupt or hostile file
// can make a lookup return null but never loop, run long or throw.

import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { TwofoldError } from "../../core/errors.ts";

export interface GeoIPMetadata {
  /** `database_type`, e.g. "GeoLite2-City" or "DBIP-City-Lite". */
  databaseType: string;
  /** `build_epoch`: when the database was built, in seconds since the Unix epoch. */
  buildEpoch: number;
  /** 4 or 6: the address family the search tree indexes. */
  ipVersion: number;
}

export interface GeoIP {
  /** A short English place for an address ("Taipei, Taiwan", "Taiwan"), or null when none is known. */
  lookup(ip: string): string | null;
  /** The address's country (ISO 3166-1 alpha-2, `TW`), or null when none is known. */
  country(ip: string): string | null;
  /** Drops the file's bytes; later lookups return null. */
  close(): void;
  readonly metadata: GeoIPMetadata;
}

/** A decoded data-section value (spec §Output Data Section). Maps have no prototype. */
export type MMDBValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | MMDBValue[]
  | { [key: string]: MMDBValue }
  | MMDBMarker;

/** The two types that carry no value: a data cache container (12) and the end marker (13). */
export class MMDBMarker {
  constructor(readonly kind: "data-cache" | "end") {}
}

/** The format-level reader underneath {@link openGeoIP}: whole records, for tools and tests. */
export interface MMDBReader {
  readonly metadata: Readonly<Record<string, MMDBValue>>;
  readonly nodeCount: number;
  readonly recordSize: number;
  readonly ipVersion: number;
  /** The record for an address, null when the tree has none; throws on corrupt data. */
  record(ip: string): MMDBValue | null;
  close(): void;
}

/** Spec §Database Metadata: the marker before the metadata, searched for in the last 128 KiB. */
const METADATA_MARKER = Buffer.from("abcdef4d61784d696e642e636f6d", "hex");
const METADATA_MAX_BYTES = 128 * 1024;
/** Spec §Data Section Separator. */
const SEPARATOR_BYTES = 16;
/** Larger than any published City database by far; refuses to slurp a device or a mistaken path. */
const MAX_FILE_BYTES = 1024 * 1024 * 1024;

/** Decoding limits. A GeoIP2 City record nests 4 deep and has a few hundred fields. */
const MAX_DEPTH = 32;
const LOOKUP_FIELD_BUDGET = 20_000;
const DECODE_FIELD_BUDGET = 200_000;
/** A place name longer than this in the file is treated as absent, not decoded. */
const MAX_NAME_BYTES = 1024;
/** What is shown to the user: at most this many characters per name. */
const MAX_NAME_CHARS = 80;

// Spec §Output Data Section: type numbers.
const POINTER = 1;
const STRING = 2;
const DOUBLE = 3;
const BYTES = 4;
const UINT16 = 5;
const UINT32 = 6;
const MAP = 7;
const INT32 = 8;
const UINT64 = 9;
const UINT128 = 10;
const ARRAY = 11;
const DATA_CACHE = 12;
const END_MARKER = 13;
const BOOLEAN = 14;
const FLOAT = 15;

/** Corrupt data found while decoding. Never leaves this module through {@link GeoIP.lookup}. */
class CorruptDataError extends Error {
  override readonly name = "CorruptDataError";
}

interface Header {
  type: number;
  /** Payload length in bytes, entry count for maps and arrays, the value for booleans, the target for pointers. */
  size: number;
  /** Absolute offset of the payload (for a pointer: of the next field). */
  payload: number;
}

/**
 * Reads fields of one section of the file: the data section, or the metadata (whose pointers, if
 * any, count from the metadata's start). Absolute file offsets throughout; `base` is what pointers
 * count from and `end` is the first byte past the section.
 */
class SectionDecoder {
  private steps = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly base: number,
    private readonly end: number,
    private readonly budget: number,
  ) {}

  private need(pos: number, length: number): void {
    if (pos < this.base || length < 0 || pos + length > this.end) {
      throw new CorruptDataError(`field at ${pos - this.base} runs outside its section`);
    }
  }

  private uint(pos: number, length: number): number {
    this.need(pos, length);
    let value = 0;
    for (let i = 0; i < length; i++) value = value * 256 + this.buf[pos + i]!;
    return value;
  }

  /** Spec §Data Field Format: the control byte, an extended type byte, then size bytes. */
  header(pos: number): Header {
    if (++this.steps > this.budget) throw new CorruptDataError("too many fields in one decode");
    const control = this.uint(pos, 1);
    let p = pos + 1;
    let type = control >> 5;
    if (type === POINTER) {
      // Spec §Pointers: 001SSVVV; SS picks 1-4 more bytes, the 11/19/27-bit forms add a bias.
      const ss = (control >> 3) & 3;
      const vvv = control & 7;
      let target: number;
      if (ss === 0) target = vvv * 0x100 + this.uint(p, 1);
      else if (ss === 1) target = vvv * 0x10000 + this.uint(p, 2) + 2048;
      else if (ss === 2) target = vvv * 0x1000000 + this.uint(p, 3) + 526336;
      else target = this.uint(p, 4);
      return { type, size: target, payload: p + ss + 1 };
    }
    if (type === 0) {
      // Extended type: the next byte holds the type minus 7; only types 8-15 are written this way.
      type = this.uint(p, 1) + 7;
      p += 1;
      if (type < INT32 || type > FLOAT) throw new CorruptDataError(`unknown extended type ${type}`);
    }
    let size = control & 0x1f;
    if (size === 29) {
      size = 29 + this.uint(p, 1);
      p += 1;
    } else if (size === 30) {
      size = 285 + this.uint(p, 2);
      p += 2;
    } else if (size === 31) {
      size = 65821 + this.uint(p, 3);
      p += 3;
    }
    return { type, size, payload: p };
  }

  /** The absolute offset a pointer value refers to. */
  private target(pointer: number): number {
    const pos = this.base + pointer;
    if (pos >= this.end) throw new CorruptDataError(`pointer ${pointer} leads outside its section`);
    return pos;
  }

  /** The header at pos, through one pointer if it is one; a pointer to a pointer is corrupt (spec §pointer). */
  private resolved(pos: number): Header {
    const h = this.header(pos);
    if (h.type !== POINTER) return h;
    const inner = this.header(this.target(h.size));
    if (inner.type === POINTER) throw new CorruptDataError("pointer to a pointer");
    return inner;
  }

  /** Checks that a container of `count` entries could fit: each entry takes at least one byte. */
  private plausibleCount(h: Header, perEntry: number): void {
    if (h.size * perEntry > this.end - h.payload) {
      throw new CorruptDataError(`container of ${h.size} entries cannot fit its section`);
    }
  }

  /** The offset just past the field at pos, without decoding it (pointers are not followed). */
  skip(pos: number): number {
    let pending = 1;
    let p = pos;
    while (pending > 0) {
      pending--;
      const h = this.header(p);
      switch (h.type) {
        case POINTER:
        case BOOLEAN:
        case END_MARKER:
          p = h.payload;
          break;
        case MAP:
          this.plausibleCount(h, 2);
          pending += 2 * h.size;
          p = h.payload;
          break;
        case ARRAY:
          this.plausibleCount(h, 1);
          pending += h.size;
          p = h.payload;
          break;
        default:
          this.need(h.payload, h.size);
          p = h.payload + h.size;
      }
    }
    return p;
  }

  /** Decodes the whole value at pos; returns it and the offset just past the field. */
  decode(pos: number, depth = 0): { value: MMDBValue; next: number } {
    if (depth > MAX_DEPTH) throw new CorruptDataError(`data nested deeper than ${MAX_DEPTH}`);
    const h = this.header(pos);
    if (h.type === POINTER) {
      const target = this.target(h.size);
      if (this.header(target).type === POINTER) throw new CorruptDataError("pointer to a pointer");
      return { value: this.decode(target, depth + 1).value, next: h.payload };
    }
    return this.decodeBody(h, depth);
  }

  private decodeBody(h: Header, depth: number): { value: MMDBValue; next: number } {
    const { type, size, payload } = h;
    const fixed = (value: MMDBValue) => ({ value, next: payload + size });
    switch (type) {
      case STRING:
        this.need(payload, size);
        return fixed(this.buf.toString("utf8", payload, payload + size));
      case BYTES:
        this.need(payload, size);
        return fixed(new Uint8Array(this.buf.subarray(payload, payload + size)));
      case DOUBLE:
        if (size !== 8) throw new CorruptDataError(`double of ${size} bytes`);
        this.need(payload, 8);
        return fixed(this.buf.readDoubleBE(payload));
      case FLOAT:
        if (size !== 4) throw new CorruptDataError(`float of ${size} bytes`);
        this.need(payload, 4);
        return fixed(this.buf.readFloatBE(payload));
      case UINT16:
      case UINT32:
        if (size > (type === UINT16 ? 2 : 4)) throw new CorruptDataError(`integer of ${size} bytes`);
        return fixed(this.uint(payload, size));
      case INT32: {
        if (size > 4) throw new CorruptDataError(`int32 of ${size} bytes`);
        // Two's complement in up to 4 bytes; as in libmaxminddb, fewer bytes are not sign-extended.
        const raw = this.uint(payload, size);
        return fixed(size === 4 ? raw | 0 : raw);
      }
      case UINT64:
      case UINT128: {
        if (size > (type === UINT64 ? 8 : 16)) throw new CorruptDataError(`integer of ${size} bytes`);
        this.need(payload, size);
        let value = 0n;
        for (let i = 0; i < size; i++) value = (value << 8n) | BigInt(this.buf[payload + i]!);
        return fixed(value);
      }
      case BOOLEAN:
        if (size > 1) throw new CorruptDataError(`boolean of size ${size}`);
        return { value: size === 1, next: payload };
      case END_MARKER:
        if (size !== 0) throw new CorruptDataError(`end marker of size ${size}`);
        return { value: new MMDBMarker("end"), next: payload };
      case DATA_CACHE:
        // Only ever read through pointers into it (spec §data cache container); skip it whole.
        this.need(payload, size);
        return fixed(new MMDBMarker("data-cache"));
      case ARRAY: {
        this.plausibleCount(h, 1);
        const items: MMDBValue[] = [];
        let p = payload;
        for (let i = 0; i < size; i++) {
          const item = this.decode(p, depth + 1);
          items.push(item.value);
          p = item.next;
        }
        return { value: items, next: p };
      }
      case MAP: {
        this.plausibleCount(h, 2);
        const map: { [key: string]: MMDBValue } = Object.create(null);
        let p = payload;
        for (let i = 0; i < size; i++) {
          const key = this.key(p);
          const item = this.decode(key.next, depth + 1);
          map[key.key] = item.value;
          p = item.next;
        }
        return { value: map, next: p };
      }
      default:
        throw new CorruptDataError(`unknown type ${type}`);
    }
  }

  /** A map key: always a string, perhaps through a pointer (spec §Maps). */
  private key(pos: number): { key: string; next: number } {
    const h = this.header(pos);
    const s = h.type === POINTER ? this.resolved(pos) : h;
    if (s.type !== STRING) throw new CorruptDataError("map key is not a string");
    this.need(s.payload, s.size);
    const next = h.type === POINTER ? h.payload : s.payload + s.size;
    return { key: this.buf.toString("utf8", s.payload, s.payload + s.size), next };
  }

  /**
   * Follows a path of map keys from the value at pos without decoding what it passes over; the
   * offset of the value found, or -1 when some key is missing or a value on the way is not a map.
   */
  find(pos: number, path: readonly string[]): number {
    let at = pos;
    for (const wanted of path) {
      const h = this.resolved(at);
      if (h.type !== MAP) return -1;
      this.plausibleCount(h, 2);
      let p = h.payload;
      let found = -1;
      for (let i = 0; i < h.size && found < 0; i++) {
        const { key, next } = this.key(p);
        if (key === wanted) found = next;
        else p = this.skip(next);
      }
      if (found < 0) return -1;
      at = found;
    }
    return at;
  }

  /** The string at pos (through a pointer), or null when it is another type or implausibly long. */
  shortString(pos: number, maxBytes: number): string | null {
    const h = this.resolved(pos);
    if (h.type !== STRING || h.size > maxBytes) return null;
    this.need(h.payload, h.size);
    return this.buf.toString("utf8", h.payload, h.payload + h.size);
  }
}

/** Parses a textual IPv4 or IPv6 address to its 4 or 16 bytes; null when it is not one. */
export function parseIPAddress(ip: string): Uint8Array | null {
  if (typeof ip !== "string") return null;
  // A zone ("fe80::1%eth0") says which link, not which address.
  const bare = ip.includes("%") ? ip.slice(0, ip.indexOf("%")) : ip;
  if (isIPv4(bare)) return new Uint8Array(bare.split(".").map(Number));
  if (!isIPv6(bare)) return null;
  const bytes = new Uint8Array(16);
  const groups = (part: string): number[] => {
    if (part === "") return [];
    const out: number[] = [];
    for (const piece of part.split(":")) {
      if (piece.includes(".")) {
        const [a, b, c, d] = piece.split(".").map(Number) as [number, number, number, number];
        out.push(a * 256 + b, c * 256 + d);
      } else out.push(Number.parseInt(piece, 16));
    }
    return out;
  };
  const gap = bare.indexOf("::");
  const head = groups(gap < 0 ? bare : bare.slice(0, gap));
  const tail = gap < 0 ? [] : groups(bare.slice(gap + 2));
  const all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  if (all.length !== 8) return null;
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/**
 * IPv4-mapped (::ffff:a.b.c.d, what a dual-stack socket reports) and IPv4-compatible (::a.b.c.d)
 * addresses become the IPv4 address, so that they find the IPv4 data whether or not the database
 * aliases ::ffff:0:0/96 to it (MaxMind's do; spec §IPv4 addresses in an IPv6 tree).
 */
function unmapIPv4(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 16) return bytes;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return bytes;
  const marker = bytes[10]! * 256 + bytes[11]!;
  return marker === 0 || marker === 0xffff ? bytes.slice(12) : bytes;
}

/** [prefix bytes, prefix length] pairs of address ranges a login is never placed in. */
const NOT_GLOBAL: ReadonlyArray<readonly [readonly number[], number]> = [
  // IPv4 (RFC 6890 and the IANA special-purpose registry): this network, private, shared (CGNAT),
  // loopback, link-local, IETF protocol, documentation, benchmarking, multicast, reserved.
  [[0], 8],
  [[10], 8],
  [[100, 64], 10],
  [[127], 8],
  [[169, 254], 16],
  [[172, 16], 12],
  [[192, 0, 0], 24],
  [[192, 0, 2], 24],
  [[192, 168], 16],
  [[198, 18], 15],
  [[198, 51, 100], 24],
  [[203, 0, 113], 24],
  [[224], 4],
  [[240], 4],
];
const NOT_GLOBAL_V6: ReadonlyArray<readonly [readonly number[], number]> = [
  // IPv6: unspecified and loopback (::/127), discard-only, documentation, unique local, link-local, multicast.
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 127],
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64],
  [[0x20, 0x01, 0x0d, 0xb8], 32],
  [[0xfc], 7],
  [[0xfe, 0x80], 10],
  [[0xff], 8],
];

function inPrefix(bytes: Uint8Array, prefix: readonly number[], length: number): boolean {
  for (let bit = 0; bit < length; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((bytes[bit >> 3]! & mask) !== ((prefix[bit >> 3] ?? 0) & mask)) return false;
  }
  return true;
}

/** Private, loopback, link-local, documentation, multicast…: no database can place them. */
export function isNonGlobalAddress(bytes: Uint8Array): boolean {
  const ranges = bytes.length === 4 ? NOT_GLOBAL : NOT_GLOBAL_V6;
  return ranges.some(([prefix, length]) => inPrefix(bytes, prefix, length));
}

function invalid(path: string, why: string, cause?: unknown): TwofoldError {
  return new TwofoldError("ERR_CONFIG_INVALID", `GeoIP database ${path}: ${why}`, {
    cause,
    detail: "a MaxMind DB (.mmdb) file such as GeoLite2-City.mmdb or dbip-city-lite.mmdb is expected",
  });
}

function readWholeFile(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (cause) {
    throw invalid(path, `cannot be opened (${(cause as NodeJS.ErrnoException).code ?? "error"})`, cause);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw invalid(path, "is not a regular file");
    if (stat.size > MAX_FILE_BYTES) throw invalid(path, `is larger than ${MAX_FILE_BYTES} bytes`);
    return readFileSync(fd);
  } catch (cause) {
    if (cause instanceof TwofoldError) throw cause;
    throw invalid(path, "cannot be read", cause);
  } finally {
    closeSync(fd);
  }
}

function metadataInteger(meta: Record<string, MMDBValue>, key: string): number | null {
  const value = meta[key];
  if (typeof value === "bigint") return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : null;
}

class Database implements MMDBReader {
  readonly metadata: Readonly<Record<string, MMDBValue>>;
  readonly nodeCount: number;
  readonly recordSize: number;
  readonly ipVersion: number;
  readonly databaseType: string;
  readonly buildEpoch: number;
  private buf: Buffer | null;
  private readonly dataStart: number;
  private readonly dataEnd: number;
  /** Where IPv4 lookups start in an IPv6 tree: the node (or record) at ::/96. */
  private readonly ipv4Start: number;

  constructor(path: string) {
    const buf = readWholeFile(path);
    // Spec §Database Metadata: the last marker within the last 128 KiB.
    const tailStart = Math.max(0, buf.length - METADATA_MAX_BYTES);
    const found = buf.subarray(tailStart).lastIndexOf(METADATA_MARKER);
    if (found < 0) throw invalid(path, "has no MaxMind DB metadata marker (not an .mmdb file, or truncated)");
    const markerAt = tailStart + found;
    const metaStart = markerAt + METADATA_MARKER.length;

    let decoded: MMDBValue;
    try {
      decoded = new SectionDecoder(buf, metaStart, buf.length, DECODE_FIELD_BUDGET).decode(metaStart).value;
    } catch (cause) {
      throw invalid(path, `has unreadable metadata (${(cause as Error).message})`, cause);
    }
    if (typeof decoded !== "object" || decoded === null || decoded instanceof Uint8Array) {
      throw invalid(path, "has metadata that is not a map");
    }
    if (Array.isArray(decoded) || decoded instanceof MMDBMarker) {
      throw invalid(path, "has metadata that is not a map");
    }
    const meta = decoded;

    const major = metadataInteger(meta, "binary_format_major_version");
    if (major !== 2) throw invalid(path, `has binary format major version ${major ?? "missing"}, not 2`);
    const nodeCount = metadataInteger(meta, "node_count");
    if (nodeCount === null || nodeCount < 1 || nodeCount > 0xffffffff) {
      throw invalid(path, "has no valid node_count");
    }
    const recordSize = metadataInteger(meta, "record_size");
    if (recordSize !== 24 && recordSize !== 28 && recordSize !== 32) {
      throw invalid(path, `has record size ${recordSize ?? "missing"}; 24, 28 and 32 are supported`);
    }
    const ipVersion = metadataInteger(meta, "ip_version");
    if (ipVersion !== 4 && ipVersion !== 6) throw invalid(path, `has ip_version ${ipVersion ?? "missing"}`);
    const databaseType = meta["database_type"];
    if (typeof databaseType !== "string") throw invalid(path, "has no database_type");
    const buildEpoch = metadataInteger(meta, "build_epoch");
    if (buildEpoch === null) throw invalid(path, "has no valid build_epoch");

    // Spec §Calculating the Search Tree Section Size.
    const treeBytes = (nodeCount * recordSize) / 4;
    if (treeBytes + SEPARATOR_BYTES > markerAt) {
      throw invalid(path, `is truncated: its ${nodeCount}-node search tree does not fit before the metadata`);
    }

    this.buf = buf;
    this.metadata = meta;
    this.nodeCount = nodeCount;
    this.recordSize = recordSize;
    this.ipVersion = ipVersion;
    this.databaseType = databaseType;
    this.buildEpoch = buildEpoch;
    this.dataStart = treeBytes + SEPARATOR_BYTES;
    this.dataEnd = markerAt;

    let start = 0;
    if (ipVersion === 6) {
      for (let i = 0; i < 96 && start < nodeCount; i++) start = this.readRecord(buf, start, 0);
    }
    this.ipv4Start = start;
  }

  /** Spec §Node Layout: the left (bit 0) or right (bit 1) record of a node, big-endian. */
  private readRecord(buf: Buffer, node: number, bit: number): number {
    switch (this.recordSize) {
      case 24: {
        const at = node * 6 + bit * 3;
        return buf[at]! * 0x10000 + buf[at + 1]! * 0x100 + buf[at + 2]!;
      }
      case 28: {
        // 28 bits: the middle byte holds the left record's top nibble, then the right one's.
        const at = node * 7;
        const middle = buf[at + 3]!;
        return bit === 0
          ? (middle >> 4) * 0x1000000 + buf[at]! * 0x10000 + buf[at + 1]! * 0x100 + buf[at + 2]!
          : (middle & 0x0f) * 0x1000000 + buf[at + 4]! * 0x10000 + buf[at + 5]! * 0x100 + buf[at + 6]!;
      }
      default:
        return buf.readUInt32BE(node * 8 + bit * 4);
    }
  }

  /**
   * Spec §Search Lookup Algorithm: one record per address bit. The absolute offset of the data
   * field for the address, or -1 when the tree holds nothing for it.
   */
  private dataOffset(buf: Buffer, bytes: Uint8Array): number {
    if (bytes.length === 16 && this.ipVersion === 4) return -1;
    let node = bytes.length === 4 && this.ipVersion === 6 ? this.ipv4Start : 0;
    const bits = bytes.length * 8;
    for (let i = 0; i < bits && node < this.nodeCount; i++) {
      node = this.readRecord(buf, node, (bytes[i >> 3]! >> (7 - (i & 7))) & 1);
    }
    if (node <= this.nodeCount) {
      if (node < this.nodeCount) throw new CorruptDataError("search tree deeper than the address");
      return -1;
    }
    // Record values past the node count point into the data section, after the separator.
    const offset = this.dataStart + (node - this.nodeCount - SEPARATOR_BYTES);
    if (offset < this.dataStart || offset >= this.dataEnd) {
      throw new CorruptDataError(`search tree record ${node} points outside the data section`);
    }
    return offset;
  }

  private decoder(buf: Buffer, budget: number): SectionDecoder {
    return new SectionDecoder(buf, this.dataStart, this.dataEnd, budget);
  }

  record(ip: string): MMDBValue | null {
    const buf = this.buf;
    const bytes = parseIPAddress(ip);
    if (buf === null || bytes === null) return null;
    const offset = this.dataOffset(buf, bytes);
    return offset < 0 ? null : this.decoder(buf, DECODE_FIELD_BUDGET).decode(offset).value;
  }

  /** GeoIP2 City/Country layout (also DB-IP's): city.names.en and country.names.en. */
  place(ip: string): string | null {
    const buf = this.buf;
    const parsed = parseIPAddress(ip);
    if (buf === null || parsed === null) return null;
    const bytes = unmapIPv4(parsed);
    if (isNonGlobalAddress(bytes)) return null;
    const offset = this.dataOffset(buf, bytes);
    if (offset < 0) return null;
    const decoder = this.decoder(buf, LOOKUP_FIELD_BUDGET);
    const name = (key: string): string | null => {
      const at = decoder.find(offset, [key, "names", "en"]);
      return at < 0 ? null : cleanName(decoder.shortString(at, MAX_NAME_BYTES));
    };
    const city = name("city");
    const country = name("country");
    if (city !== null && country !== null) return `${city}, ${country}`;
    return country ?? city;
  }

  /** GeoIP2 City/Country layout: country.iso_code (two capital letters), or null. */
  countryCode(ip: string): string | null {
    const buf = this.buf;
    const parsed = parseIPAddress(ip);
    if (buf === null || parsed === null) return null;
    const bytes = unmapIPv4(parsed);
    if (isNonGlobalAddress(bytes)) return null;
    const offset = this.dataOffset(buf, bytes);
    if (offset < 0) return null;
    const decoder = this.decoder(buf, LOOKUP_FIELD_BUDGET);
    const at = decoder.find(offset, ["country", "iso_code"]);
    const code = at < 0 ? null : decoder.shortString(at, 2);
    return code !== null && /^[A-Z]{2}$/.test(code) ? code : null;
  }

  close(): void {
    this.buf = null;
  }
}

/**
 * Names come from a file and end up in front of a user deciding whether to approve a login: no
 * control or format characters (bidi overrides could reorder what is shown), one line, short.
 */
function cleanName(raw: string | null): string | null {
  if (raw === null) return null;
  const text = raw
    .replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}\uFFFD]/gu, "")
    .replace(/\s+/gu, " ")
    .trim();
  if (text === "") return null;
  const chars = Array.from(text);
  return chars.length > MAX_NAME_CHARS ? chars.slice(0, MAX_NAME_CHARS).join("").trimEnd() : text;
}

/**
 * Opens a MaxMind DB file for the format-level reader. Throws a TwofoldError (ERR_CONFIG_INVALID)
 * naming the file when it cannot be read or is not a valid MaxMind DB.
 */
export function openMMDB(path: string): MMDBReader {
  return new Database(path);
}

/**
 * Opens a MaxMind DB City (or Country) database for push context places. Throws a TwofoldError
 * (ERR_CONFIG_INVALID) naming the file when it cannot be read or is not a valid MaxMind DB;
 * after that, `lookup` never throws: corrupt data for an address gives null.
 */
export function openGeoIP(path: string): GeoIP {
  const db = new Database(path);
  return {
    metadata: Object.freeze({
      databaseType: db.databaseType,
      buildEpoch: db.buildEpoch,
      ipVersion: db.ipVersion,
    }),
    lookup(ip: string): string | null {
      try {
        return db.place(ip);
      } catch {
        // Corrupt data for this address (or anything else unexpected): no place, never a failed push.
        return null;
      }
    },
    country(ip: string): string | null {
      try {
        return db.countryCode(ip);
      } catch {
        return null;
      }
    },
    close(): void {
      db.close();
    },
  };
}
