// A tiny CBOR encoder (RFC 8949 §3) for the test authenticator: unsigned and negative integers, byte and text strings, arrays, maps.

export type CBORValue =
  | number
  | string
  | Uint8Array
  | CBORValue[]
  | Map<CBORValue, CBORValue>
  | boolean
  | null;

function head(major: number, length: number | bigint): number[] {
  const n = BigInt(length);
  const m = major << 5;
  if (n < 24n) return [m | Number(n)];
  if (n < 0x100n) return [m | 24, Number(n)];
  if (n < 0x10000n) return [m | 25, Number(n >> 8n), Number(n & 0xffn)];
  if (n < 0x100000000n) return [m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn))];
  return [m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn))];
}

/** Encode a value; map entries keep the order given (the test decides whether it is canonical). */
export function encodeCBOR(value: CBORValue): Uint8Array {
  const out: number[] = [];
  const write = (v: CBORValue): void => {
    if (v === null) out.push(0xf6);
    else if (v === true) out.push(0xf5);
    else if (v === false) out.push(0xf4);
    else if (typeof v === "number") {
      if (!Number.isInteger(v)) throw new Error("only integers");
      out.push(...(v >= 0 ? head(0, v) : head(1, -1 - v)));
    } else if (typeof v === "string") {
      const b = new TextEncoder().encode(v);
      out.push(...head(3, b.length), ...b);
    } else if (v instanceof Uint8Array) out.push(...head(2, v.length), ...v);
    else if (Array.isArray(v)) {
      out.push(...head(4, v.length));
      for (const item of v) write(item);
    } else {
      out.push(...head(5, v.size));
      for (const [k, item] of v) {
        write(k);
        write(item);
      }
    }
  };
  write(value);
  return new Uint8Array(out);
}

/** A raw CBOR head: for hostile inputs (a length the data does not have). */
export function cborHead(major: number, length: number | bigint): Uint8Array {
  return new Uint8Array(head(major, length));
}
