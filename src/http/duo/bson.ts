// BSON (bsonspec.org 1.1), the subset the legacy REST v1 API answers in: documents of strings, int32, doubles, booleans, null, arrays and documents.

export type BSONValue = string | number | boolean | null | BSONValue[] | { [key: string]: BSONValue };
export type BSONDocument = { [key: string]: BSONValue };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** Deeper nesting than any answer of ours has: refuse rather than recurse without bound. */
const MAX_DEPTH = 32;

/**
 * Encode a document. Integers in int32 range are int32 (0x10): duo_unix requires `code` to be one (duo-compat
 * §3.9). Other numbers are doubles. Keys may not contain NUL (they are C strings).
 */
export function encodeBSON(doc: BSONDocument): Buffer {
  return encodeDocument(doc, 0);
}

function encodeDocument(doc: BSONDocument | BSONValue[], depth: number): Buffer {
  if (depth > MAX_DEPTH) throw new Error("BSON document nested too deeply");
  const parts: Buffer[] = [];
  const entries: Array<[string, BSONValue]> = Array.isArray(doc)
    ? doc.map((v, i) => [String(i), v])
    : Object.entries(doc);
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    if (key.includes("\u0000")) throw new Error("BSON keys cannot contain NUL");
    const name = Buffer.concat([Buffer.from(key, "utf8"), Buffer.from([0])]);
    parts.push(...encodeElement(name, value, depth));
  }
  const body = Buffer.concat(parts);
  const out = Buffer.alloc(4 + body.length + 1);
  out.writeInt32LE(out.length, 0);
  body.copy(out, 4);
  return out;
}

function encodeElement(name: Buffer, value: BSONValue, depth: number): Buffer[] {
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    const len = Buffer.alloc(4);
    len.writeInt32LE(bytes.length + 1);
    return [Buffer.from([0x02]), name, len, bytes, Buffer.from([0])];
  }
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(value);
      return [Buffer.from([0x10]), name, b];
    }
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    return [Buffer.from([0x01]), name, b];
  }
  if (typeof value === "boolean") return [Buffer.from([0x08]), name, Buffer.from([value ? 1 : 0])];
  if (value === null) return [Buffer.from([0x0a]), name];
  if (Array.isArray(value)) return [Buffer.from([0x04]), name, encodeDocument(value, depth + 1)];
  return [Buffer.from([0x03]), name, encodeDocument(value, depth + 1)];
}

/** Decode a document of the same subset; anything malformed or of another type throws. */
export function decodeBSON(bytes: Uint8Array): BSONDocument {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { value, end } = decodeDocument(buf, 0, false, 0);
  if (end !== buf.length) throw new Error("trailing bytes after the BSON document");
  return value as BSONDocument;
}

function decodeDocument(
  buf: Buffer,
  start: number,
  asArray: boolean,
  depth: number,
): { value: BSONDocument | BSONValue[]; end: number } {
  if (depth > MAX_DEPTH) throw new Error("BSON document nested too deeply");
  if (start + 5 > buf.length) throw new Error("truncated BSON document");
  const size = buf.readInt32LE(start);
  const end = start + size;
  if (size < 5 || end > buf.length || buf[end - 1] !== 0) throw new Error("bad BSON document length");
  const doc: BSONDocument = Object.create(null);
  const list: BSONValue[] = [];
  let at = start + 4;
  while (at < end - 1) {
    const type = buf[at]!;
    const nul = buf.indexOf(0, at + 1);
    if (nul === -1 || nul >= end) throw new Error("unterminated BSON key");
    const key = buf.toString("utf8", at + 1, nul);
    at = nul + 1;
    let value: BSONValue;
    switch (type) {
      case 0x02: {
        if (at + 4 > end) throw new Error("truncated BSON string");
        const len = buf.readInt32LE(at);
        if (len < 1 || at + 4 + len > end || buf[at + 4 + len - 1] !== 0) throw new Error("bad BSON string");
        value = buf.toString("utf8", at + 4, at + 4 + len - 1);
        at += 4 + len;
        break;
      }
      case 0x10:
        if (at + 4 > end) throw new Error("truncated BSON int32");
        value = buf.readInt32LE(at);
        at += 4;
        break;
      case 0x01:
        if (at + 8 > end) throw new Error("truncated BSON double");
        value = buf.readDoubleLE(at);
        at += 8;
        break;
      case 0x08:
        if (at + 1 > end || buf[at]! > 1) throw new Error("bad BSON boolean");
        value = buf[at] === 1;
        at += 1;
        break;
      case 0x0a:
        value = null;
        break;
      case 0x03:
      case 0x04: {
        const inner = decodeDocument(buf, at, type === 0x04, depth + 1);
        if (inner.end > end) throw new Error("BSON sub-document overruns its parent");
        value = inner.value;
        at = inner.end;
        break;
      }
      default:
        throw new Error(`unsupported BSON type 0x${type.toString(16)}`);
    }
    if (asArray) list.push(value);
    else doc[key] = value;
  }
  if (at !== end - 1) throw new Error("bad BSON document length");
  return { value: asArray ? list : doc, end };
}
