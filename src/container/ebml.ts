/**
 * EBML (RFC 8794) element encoding for the Matroska writer: element IDs are written as they are specified
 * (their length marker included), data sizes as variable-length integers.
 */

/** An EBML variable-size integer (RFC 8794 §4), in the fewest bytes. */
export function vint(value: number): Uint8Array {
  for (let length = 1; length <= 8; length++) {
    // 2^(7·length) − 1 is reserved for "unknown size".
    if (value < 2 ** (7 * length) - 1) {
      const out = new Uint8Array(length);
      let rest = value;
      for (let i = length - 1; i >= 0; i--) {
        out[i] = rest % 256;
        rest = Math.floor(rest / 256);
      }
      out[0] = (out[0] ?? 0) | (0x80 >> (length - 1));
      return out;
    }
  }
  throw new RangeError(`EBML size ${value} too large`);
}

/** The 8-byte "unknown size" (all value bits set), for a live Segment. */
export const unknownSize = new Uint8Array([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export function idBytes(id: number): Uint8Array {
  const bytes: number[] = [];
  for (let rest = id; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Uint8Array.from(bytes);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function element(id: number, ...children: Uint8Array[]): Uint8Array {
  const body = concat(children);
  return concat([idBytes(id), vint(body.length), body]);
}

export function uintElement(id: number, value: number): Uint8Array {
  const bytes: number[] = [];
  for (let rest = value; rest > 0 || bytes.length === 0; rest = Math.floor(rest / 256))
    bytes.unshift(rest % 256);
  return element(id, Uint8Array.from(bytes));
}

export function floatElement(id: number, value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value);
  return element(id, bytes);
}

export function stringElement(id: number, value: string): Uint8Array {
  return element(id, new TextEncoder().encode(value));
}
