/**
 * ISO base media file format (ISO/IEC 14496-12 §4.2) box framing and bounds-checked field reads, shared by the
 * fMP4 splitter and the init/fragment parsers. Pure: bytes in, values out; every read checks the remaining length
 * first and malformed input throws a ParseError naming the byte offset (relative to the bytes given).
 */
import { ParseError } from '../../rtp/parse-error.ts';

/** One box located inside a byte array: `[start, end)` is the whole box, `[contentStart, end)` its payload. */
export interface Box {
  readonly type: string;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** A box header: `size` is the whole box, header included; `headerSize` is 8, or 16 with a 64-bit largesize. */
export interface BoxHeader {
  readonly type: string;
  readonly size: number;
  readonly headerSize: number;
}

/** The type of a box as a string; four bytes read as Latin-1 (ISO/IEC 14496-12 §4.2: a four-character code). */
export const fourCC = (bytes: Uint8Array, at: number): string =>
  String.fromCharCode(bytes[at] ?? 0, bytes[at + 1] ?? 0, bytes[at + 2] ?? 0, bytes[at + 3] ?? 0);

/** A box type for error messages: the four characters when printable, else their hex (`0x00a1ff20`). */
export const showType = (type: string): string =>
  /^[\x20-\x7e]{4}$/.test(type)
    ? `'${type}'`
    : `0x${Array.from({ length: type.length }, (_, i) => type.charCodeAt(i).toString(16).padStart(2, '0')).join('')}`;

/**
 * Reads a box header from `header` (8 bytes, or 16 when the 32-bit size is 1), or `undefined` when more bytes are
 * needed. ISO/IEC 14496-12 §4.2: size 1 means a 64-bit largesize follows the type; size 0 means "to the end of the
 * file", which cannot be framed in a live stream or nested inside another box, so it is refused.
 * `offset` is only used for error messages; `maxSize` bounds what a header may declare.
 */
export const readBoxHeader = (header: Uint8Array, offset: number, maxSize: number): BoxHeader | undefined => {
  if (header.length < 8) return undefined;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const size32 = view.getUint32(0);
  const type = fourCC(header, 4);
  let size = size32;
  let headerSize = 8;
  if (size32 === 1) {
    if (header.length < 16) return undefined;
    const high = view.getUint32(8);
    const low = view.getUint32(12);
    // Anything at or above 2^32 is far beyond any bound we accept; keep the number exact below 2^53.
    size = high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 0x1_0000_0000 + low;
    headerSize = 16;
  } else if (size32 === 0) {
    throw new ParseError(
      `box ${showType(type)} has size 0 (extends to end of file), not allowed here`,
      offset,
    );
  }
  if (size < headerSize) {
    throw new ParseError(
      `box ${showType(type)} declares size ${size}, smaller than its ${headerSize}-byte header`,
      offset,
    );
  }
  if (size > maxSize) {
    throw new ParseError(
      `box ${showType(type)} declares ${size} bytes, more than the ${maxSize} allowed`,
      offset,
    );
  }
  return { type, size, headerSize };
};

/** The boxes laid end to end in `bytes[start, end)`; a box running past `end` is a ParseError. */
export const listBoxes = (bytes: Uint8Array, start: number, end: number): Box[] => {
  const boxes: Box[] = [];
  let at = start;
  while (at < end) {
    const header = readBoxHeader(bytes.subarray(at, Math.min(at + 16, end)), at, Number.MAX_SAFE_INTEGER);
    if (header === undefined) throw new ParseError('truncated box header', at);
    if (header.size > end - at) {
      throw new ParseError(
        `box ${showType(header.type)} declares ${header.size} bytes, only ${end - at} remain`,
        at,
      );
    }
    boxes.push({ type: header.type, start: at, contentStart: at + header.headerSize, end: at + header.size });
    at += header.size;
  }
  return boxes;
};

/** The children of a container box (ISO/IEC 14496-12 §4.2: a box whose payload is only boxes). */
export const childBoxes = (bytes: Uint8Array, parent: Box, skip = 0): Box[] =>
  listBoxes(bytes, parent.contentStart + skip, parent.end);

/** The first child of `type`, or undefined. */
export const findBox = (boxes: readonly Box[], type: string): Box | undefined =>
  boxes.find((box) => box.type === type);

/** The first child of `type`; its absence is a ParseError (`where` names the parent for the message). */
export const requireBox = (boxes: readonly Box[], type: string, where: Box | number): Box => {
  const box = findBox(boxes, type);
  if (box === undefined) {
    const at = typeof where === 'number' ? where : where.start;
    const parent = typeof where === 'number' ? 'the segment' : showType(where.type);
    throw new ParseError(`missing '${type}' box in ${parent}`, at);
  }
  return box;
};

/**
 * A cursor over `[start, end)` of a byte array. Every read checks the remaining length first and throws a
 * ParseError (offset relative to the array) instead of reading past the end; the array is never written.
 */
export class FieldReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #end: number;
  #at: number;

  constructor(bytes: Uint8Array, start: number, end: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#at = start;
    this.#end = end;
  }

  /** A reader over a box's payload. */
  static of(bytes: Uint8Array, box: Box): FieldReader {
    return new FieldReader(bytes, box.contentStart, box.end);
  }

  get offset(): number {
    return this.#at;
  }

  get remaining(): number {
    return this.#end - this.#at;
  }

  #need(count: number, what: string): number {
    if (this.#end - this.#at < count) {
      throw new ParseError(`truncated ${what}: need ${count} bytes, have ${this.#end - this.#at}`, this.#at);
    }
    const at = this.#at;
    this.#at += count;
    return at;
  }

  u8(what = 'field'): number {
    return this.#view.getUint8(this.#need(1, what));
  }

  u16(what = 'field'): number {
    return this.#view.getUint16(this.#need(2, what));
  }

  u24(what = 'field'): number {
    const at = this.#need(3, what);
    return (this.#view.getUint8(at) << 16) | this.#view.getUint16(at + 1);
  }

  u32(what = 'field'): number {
    return this.#view.getUint32(this.#need(4, what));
  }

  /** A 64-bit unsigned field as an exact number; values of 2^53 or more are a ParseError. */
  u64(what = 'field'): number {
    const at = this.#need(8, what);
    const high = this.#view.getUint32(at);
    if (high >= 0x200000) throw new ParseError(`${what} does not fit in 53 bits`, at);
    return high * 0x1_0000_0000 + this.#view.getUint32(at + 4);
  }

  skip(count: number, what = 'field'): void {
    this.#need(count, what);
  }

  bytes(count: number, what = 'field'): Uint8Array {
    const at = this.#need(count, what);
    return this.#bytes.subarray(at, at + count);
  }

  /** A full box's version and 24-bit flags (ISO/IEC 14496-12 §4.2 FullBox). */
  fullBox(what: string): { version: number; flags: number } {
    const version = this.u8(`${what} version`);
    return { version, flags: this.u24(`${what} flags`) };
  }
}
