// RFC 4648 base32 (the alphabet authenticator apps use for otpauth:// secrets), without padding on output.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function encodeBase32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Decode base32, tolerating lower case, spaces and `=` padding as people paste them.
 * Returns undefined for any other character or an impossible length (RFC 4648 §6).
 */
export function decodeBase32(text: string): Uint8Array | undefined {
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  if (clean.length === 0) return undefined;
  if ([1, 3, 6].includes(clean.length % 8)) return undefined;
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of clean) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}
