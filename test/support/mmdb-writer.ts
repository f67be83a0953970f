// A small MaxMind DB writer for tests: builds .mmdb files from (CIDR, record) pairs per the MaxMind DB File Format Specification v2.0.
//
// Deliberately separate from the reader's code paths (only the address parser is shared): the
// files it writes are checked with libmaxminddb's `mmdblookup` as well as with our reader.

import { parseIPAddress } from "../../src/adapters/geoip/mmdb.ts";

/** A value with an explicit MMDB type, for the types plain JavaScript values do not pick. */
export interface TypedValue {
  readonly mmdbType:
    | "uint16"
    | "uint32"
    | "int32"
    | "uint64"
    | "uint128"
    | "double"
    | "float"
    | "pointer"
    | "raw";
  readonly value: number | bigint | Uint8Array;
}

/**
 * Plain values map to: string → string, boolean → boolean, integer 0…2³²−1 → uint32, negative
 * integer → int32, other number → double, bigint → uint64 (uint128 past 2⁶⁴), Uint8Array → bytes,
 * array → array, object → map.
 */
export type WriterValue =
  | string
  | boolean
  | number
  | bigint
  | Uint8Array
  | TypedValue
  | readonly WriterValue[]
  | { readonly [key: string]: WriterValue };

export const uint16 = (value: number): TypedValue => ({ mmdbType: "uint16", value });
export const uint32 = (value: number): TypedValue => ({ mmdbType: "uint32", value });
export const int32 = (value: number): TypedValue => ({ mmdbType: "int32", value });
export const uint64 = (value: bigint): TypedValue => ({ mmdbType: "uint64", value });
export const uint128 = (value: bigint): TypedValue => ({ mmdbType: "uint128", value });
export const double = (value: number): TypedValue => ({ mmdbType: "double", value });
export const float = (value: number): TypedValue => ({ mmdbType: "float", value });
/** A raw pointer to a data-section offset (for hand-made loops and bad targets). */
export const pointer = (offset: number): TypedValue => ({ mmdbType: "pointer", value: offset });
/** Bytes written as they are, in place of a field (for corrupt fields). */
export const raw = (bytes: readonly number[]): TypedValue => ({
  mmdbType: "raw",
  value: new Uint8Array(bytes),
});

export interface MMDBNetwork {
  /** "81.2.69.0/24", "2001:218::/32"; an IPv4 network in an IPv6 database goes under ::/96. */
  cidr: string;
  /** The same object given for several networks is written once. */
  record: WriterValue;
}

export interface MMDBWriterOptions {
  ipVersion: 4 | 6;
  recordSize: 24 | 28 | 32;
  databaseType?: string;
  buildEpoch?: bigint;
  /** Also point ::ffff:0:0/96 at the IPv4 subtree, as MaxMind's own databases do. */
  ipv4MappedAlias?: boolean;
  /**
   * Put every string in a data cache container at the start of the data section, after `padding`
   * zero bytes, and refer to them by pointers. Without it, repeated strings still become pointers to
   * their first occurrence. Padding of 2048+ or 526336+ bytes makes those pointers use the 19- and
   * 27-bit forms (spec §Pointers).
   */
  cache?: { padding: number };
  /** Write every pointer in the 32-bit form. */
  widePointers?: boolean;
  /** End the data section with an end marker (type 13). */
  endMarker?: boolean;
  /** Metadata keys to replace (null: leave the key out), for invalid metadata. */
  metadata?: { readonly [key: string]: WriterValue | null };
}

/** What a record in the tree refers to while it is built. */
type Child = TreeNode | { data: number } | null;
interface TreeNode {
  children: [Child, Child];
}

function parseCIDR(cidr: string, ipVersion: 4 | 6): { bits: number[]; length: number } {
  const [address, lengthText] = cidr.split("/");
  const bytes = parseIPAddress(address ?? "");
  const length = Number(lengthText);
  if (bytes === null || !Number.isInteger(length) || length < 0 || length > bytes.length * 8) {
    throw new Error(`bad CIDR ${cidr}`);
  }
  const bits: number[] = [];
  for (let i = 0; i < bytes.length * 8; i++) bits.push((bytes[i >> 3]! >> (7 - (i & 7))) & 1);
  if (bytes.length === 16 && ipVersion === 4) throw new Error(`IPv6 network ${cidr} in an IPv4 database`);
  if (bytes.length === 4 && ipVersion === 6)
    return { bits: [...new Array(96).fill(0), ...bits], length: length + 96 };
  return { bits, length };
}

/** Sets the subtree for a prefix; a data record met on the way is pushed down to both halves. */
function insert(root: TreeNode, bits: number[], length: number, child: Child): void {
  if (length === 0) {
    root.children = [child, child];
    return;
  }
  let node = root;
  for (let depth = 0; depth < length - 1; depth++) {
    const bit = bits[depth]!;
    const next = node.children[bit]!;
    if (next !== null && "children" in next) {
      node = next;
    } else {
      const split: TreeNode = { children: [next, next] };
      node.children[bit] = split;
      node = split;
    }
  }
  node.children[bits[length - 1]!] = child;
}

function encodeUnsigned(value: bigint): number[] {
  const out: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) out.unshift(Number(v & 0xffn));
  return out;
}

/** Spec §Data Field Format: control byte, extended type byte, then 0-3 size bytes. */
function header(type: number, size: number): number[] {
  const extended = type > 7 ? [type - 7] : [];
  const first = type > 7 ? 0 : type << 5;
  if (size < 29) return [first | size, ...extended];
  if (size < 285) return [first | 29, ...extended, size - 29];
  if (size < 65821) return [first | 30, ...extended, ...be(size - 285, 2)];
  if (size > 16_843_036)
    throw new Error(`field of ${size} is past the format's largest (spec §Payload Size)`);
  return [first | 31, ...extended, ...be(size - 65821, 3)];
}

function be(value: number, length: number): number[] {
  const out: number[] = [];
  for (let i = length - 1; i >= 0; i--) out.push(Math.floor(value / 256 ** i) % 256);
  return out;
}

function encodePointer(offset: number, wide: boolean): number[] {
  if (!wide && offset < 2048) return [0x20 | (offset >> 8), offset & 0xff];
  if (!wide && offset < 526336) {
    const v = offset - 2048;
    return [0x28 | (v >> 16), ...be(v & 0xffff, 2)];
  }
  if (!wide && offset < 526336 + 2 ** 27) {
    const v = offset - 526336;
    return [0x30 | Math.floor(v / 0x1000000), ...be(v % 0x1000000, 3)];
  }
  return [0x38, ...be(offset, 4)];
}

class DataWriter {
  readonly bytes: number[] = [];
  /** Where each string was first written (or cached), for pointers to it. */
  readonly strings = new Map<string, number>();

  /** `start`: the section offset of bytes[0] (what comes before is written separately). */
  constructor(
    private readonly wide: boolean,
    readonly start = 0,
  ) {}

  get offset(): number {
    return this.start + this.bytes.length;
  }

  write(value: WriterValue): void {
    const out = this.bytes;
    if (typeof value === "string") {
      const known = this.strings.get(value);
      if (known !== undefined && value.length >= 3) {
        out.push(...encodePointer(known, this.wide));
        return;
      }
      if (known === undefined) this.strings.set(value, this.offset);
      const utf8 = Buffer.from(value, "utf8");
      out.push(...header(2, utf8.length));
      for (const byte of utf8) out.push(byte);
    } else if (typeof value === "boolean") {
      out.push(...header(14, value ? 1 : 0));
    } else if (typeof value === "number") {
      if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) this.write(uint32(value));
      else if (Number.isInteger(value) && value < 0 && value >= -(2 ** 31)) this.write(int32(value));
      else this.write(double(value));
    } else if (typeof value === "bigint") {
      this.write(value < 2n ** 64n ? uint64(value) : uint128(value));
    } else if (value instanceof Uint8Array) {
      out.push(...header(4, value.length));
      for (const byte of value) out.push(byte);
    } else if (Array.isArray(value)) {
      out.push(...header(11, value.length));
      for (const item of value) this.write(item);
    } else if (isTyped(value)) {
      this.writeTyped(value);
    } else {
      const entries = Object.entries(value as { [key: string]: WriterValue });
      out.push(...header(7, entries.length));
      for (const [key, item] of entries) {
        this.write(key);
        this.write(item);
      }
    }
  }

  private writeTyped({ mmdbType, value }: TypedValue): void {
    const out = this.bytes;
    if (value instanceof Uint8Array) {
      for (const byte of value) out.push(byte);
      return;
    }
    switch (mmdbType) {
      case "uint16":
      case "uint32":
      case "uint64":
      case "uint128": {
        const payload = encodeUnsigned(BigInt(value));
        const type = { uint16: 5, uint32: 6, uint64: 9, uint128: 10 }[mmdbType];
        out.push(...header(type, payload.length), ...payload);
        return;
      }
      case "int32": {
        // Negative values need all four bytes of two's complement; others are written short.
        const n = Number(value);
        const payload = n < 0 ? be(n + 2 ** 32, 4) : encodeUnsigned(BigInt(n));
        out.push(...header(8, payload.length), ...payload);
        return;
      }
      case "double": {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(Number(value));
        out.push(...header(3, 8), ...b);
        return;
      }
      case "float": {
        const b = Buffer.alloc(4);
        b.writeFloatBE(Number(value));
        out.push(...header(15, 4), ...b);
        return;
      }
      case "pointer":
        out.push(...encodePointer(Number(value), this.wide));
        return;
      case "raw":
        return;
    }
  }
}

function isTyped(value: object): value is TypedValue {
  return "mmdbType" in value && "value" in value && Object.keys(value).length === 2;
}

function collectStrings(value: WriterValue, into: Set<string>): void {
  if (typeof value === "string") into.add(value);
  else if (Array.isArray(value)) for (const item of value) collectStrings(item, into);
  else if (typeof value === "object" && !(value instanceof Uint8Array) && !isTyped(value)) {
    for (const [key, item] of Object.entries(value as { [key: string]: WriterValue })) {
      into.add(key);
      collectStrings(item, into);
    }
  }
}

/** Writes a record's bytes for one node (spec §Node Layout). */
function writeNode(out: number[], left: number, right: number, recordSize: number): void {
  if (recordSize === 24) out.push(...be(left, 3), ...be(right, 3));
  else if (recordSize === 32) out.push(...be(left, 4), ...be(right, 4));
  else {
    const middle = (Math.floor(left / 0x1000000) << 4) | Math.floor(right / 0x1000000);
    out.push(...be(left % 0x1000000, 3), middle, ...be(right % 0x1000000, 3));
  }
}

/**
 * Builds a MaxMind DB file. Networks are applied least specific first, so a more specific network
 * wins where they overlap. With no cache, the distinct records are written in the order first
 * given, the first at data-section offset 0 (tests that patch bytes rely on it).
 */
export function buildMMDB(networks: readonly MMDBNetwork[], options: MMDBWriterOptions): Uint8Array {
  const { ipVersion, recordSize } = options;
  const records: WriterValue[] = [];
  const recordIndex = new Map<WriterValue, number>();
  for (const { record } of networks) {
    if (!recordIndex.has(record)) {
      recordIndex.set(record, records.length);
      records.push(record);
    }
  }

  const root: TreeNode = { children: [null, null] };
  const prefixes = networks
    .map((n) => ({ ...parseCIDR(n.cidr, ipVersion), data: recordIndex.get(n.record)! }))
    .sort((a, b) => a.length - b.length);
  for (const p of prefixes) insert(root, p.bits, p.length, { data: p.data });

  if (options.ipv4MappedAlias && ipVersion === 6) {
    let v4root: Child = root;
    for (let i = 0; i < 96 && v4root !== null && "children" in v4root; i++) v4root = v4root.children[0];
    if (v4root === null) throw new Error("no IPv4 networks to alias");
    const bits = [...new Array(80).fill(0), ...new Array(16).fill(1)];
    insert(root, bits, 96, v4root);
  }

  // Number the nodes breadth first; an aliased node is numbered once.
  const order: TreeNode[] = [];
  const numbers = new Map<TreeNode, number>();
  const queue: TreeNode[] = [root];
  numbers.set(root, 0);
  while (queue.length > 0) {
    const node = queue.shift()!;
    order.push(node);
    for (const child of node.children) {
      if (child !== null && "children" in child && !numbers.has(child)) {
        numbers.set(child, numbers.size);
        queue.push(child);
      }
    }
  }
  const nodeCount = order.length;

  // The data section: [container header, zero padding, cached strings], then the records. The
  // padding is never materialised as a number[], so it can be large enough for 28-bit records
  // to need their top nibble (data offsets past 2^24).
  let prefix = new Uint8Array(0);
  let data = new DataWriter(options.widePointers ?? false);
  if (options.cache) {
    const strings = new Set<string>();
    for (const record of records) collectStrings(record, strings);
    const cached: number[] = [];
    const within = new Map<string, number>();
    for (const s of strings) {
      within.set(s, cached.length);
      for (const byte of [...header(2, Buffer.byteLength(s)), ...Buffer.from(s, "utf8")]) cached.push(byte);
    }
    const containerHeader = header(12, options.cache.padding + cached.length);
    const cacheStart = containerHeader.length + options.cache.padding;
    prefix = new Uint8Array(cacheStart);
    prefix.set(containerHeader);
    data = new DataWriter(options.widePointers ?? false, cacheStart);
    for (const [s, at] of within) data.strings.set(s, cacheStart + at);
    for (const byte of cached) data.bytes.push(byte);
  }
  const offsets = records.map((record) => {
    const at = data.offset;
    data.write(record);
    return at;
  });
  if (options.endMarker) data.bytes.push(...header(13, 0));

  const recordValue = (child: Child): number => {
    if (child === null) return nodeCount;
    if ("children" in child) return numbers.get(child)!;
    return nodeCount + 16 + offsets[child.data]!;
  };
  const tree: number[] = [];
  for (const node of order) {
    const [left, right] = node.children.map(recordValue) as [number, number];
    if (Math.max(left, right) >= 2 ** recordSize) throw new Error("database too large for the record size");
    writeNode(tree, left, right, recordSize);
  }

  const metadata = new DataWriter(false);
  const fields: { [key: string]: WriterValue | null } = {
    node_count: uint32(nodeCount),
    record_size: uint16(recordSize),
    ip_version: uint16(ipVersion),
    database_type: options.databaseType ?? "Twofold-Test-City",
    languages: ["en"],
    binary_format_major_version: uint16(2),
    binary_format_minor_version: uint16(0),
    build_epoch: uint64(options.buildEpoch ?? 1_767_225_600n),
    description: { en: "Twofold test database" },
    ...options.metadata,
  };
  metadata.write(
    Object.fromEntries(
      Object.entries(fields).filter((entry): entry is [string, WriterValue] => entry[1] !== null),
    ),
  );

  return new Uint8Array(
    Buffer.concat([
      Buffer.from(tree),
      Buffer.alloc(16),
      prefix,
      Buffer.from(data.bytes),
      Buffer.from("abcdef4d61784d696e642e636f6d", "hex"),
      Buffer.from(metadata.bytes),
    ]),
  );
}
