/**
 * fMP4 / CMAF byte-stream reading for the HLS packager (ISO/IEC 14496-12, ISO/IEC 23000-19).
 *
 * `Fmp4Splitter` frames the byte stream an encoder writes to a pipe (`-f mp4 -movflags
 * +frag_keyframe+empty_moov+default_base_moof+cmaf`) into whole units: the initialization segment (ftyp + moov and
 * anything else before the first moof) and one unit per movie fragment (optional styp/prft/emsg/sidx, moof, mdat),
 * each parsed with `parseInit` / `parseFragment`. Pure: bytes in, units out; no I/O, timers or processes.
 */
import { ParseError } from '../../rtp/parse-error.ts';
import { ByteQueue } from './byte-queue.ts';
import { parseFragment, type FragmentInfo } from './fmp4-fragment.ts';
import { parseInit, type InitInfo } from './fmp4-init.ts';
import { readBoxHeader, showType, type BoxHeader } from './mp4-box.ts';

export { parseFragment, parseInit };
export type { FragmentInfo, FragmentTrack } from './fmp4-fragment.ts';
export type { InitInfo, InitTrack, TrackDefaults } from './fmp4-init.ts';

export type Fmp4Unit =
  | { readonly type: 'init'; readonly bytes: Uint8Array; readonly info: InitInfo }
  | { readonly type: 'fragment'; readonly bytes: Uint8Array; readonly info: FragmentInfo };

export interface Fmp4SplitterOptions {
  /** Largest box a header may declare; more is a ParseError (the caller restarts the stream). Default 64 MiB. */
  readonly maxBoxBytes?: number;
  /** Largest unit (init, or prefix + moof + mdat). Default 64 MiB. */
  readonly maxUnitBytes?: number;
}

export interface Fmp4SplitterStats {
  readonly bytesIn: number;
  readonly initUnits: number;
  readonly fragmentUnits: number;
  /** Top-level boxes dropped between fragments: mfra (ffmpeg writes one at the end), free, skip. */
  readonly skippedBytes: number;
  /** Bytes received but not yet part of a returned unit. */
  readonly pendingBytes: number;
}

const defaultMaxBytes = 64 * 1024 * 1024;

/** Boxes that may come between moov (or the previous mdat) and a moof and belong to the fragment that follows. */
const fragmentPrefixTypes = new Set(['styp', 'prft', 'emsg', 'sidx', 'ssix']);
/** Top-level boxes that carry nothing a segment needs when they stand between fragments. */
const droppedBetweenFragments = new Set(['mfra', 'free', 'skip']);

/** Where the splitter is in the stream: expecting ftyp, inside the init, between fragments, or after a moof. */
type Phase = 'ftyp' | 'init' | 'between' | 'moof';

/**
 * Splits an fMP4 byte stream, pushed in chunks of any size, into init and fragment units.
 *
 * Each unit's bytes are one fresh copy (made once, when the unit is complete); pushed chunks are never written,
 * but are held as views until their bytes are taken, so do not reuse a chunk's memory after pushing it.
 * A size-0 box, a box or unit over the bound, a missing ftyp/moov or an mdat without moof throws ParseError with
 * the offset in the stream; the splitter then stays failed (every later call throws the same error).
 */
export class Fmp4Splitter {
  readonly #queue = new ByteQueue();
  readonly #maxBoxBytes: number;
  readonly #maxUnitBytes: number;
  #phase: Phase = 'ftyp';
  /** Bytes at the front of the queue already framed into boxes of the unit being gathered. */
  #scan = 0;
  /** The header at `#scan` while its box is still arriving, so small chunks do not re-read it each time. */
  #waiting: BoxHeader | undefined;
  /** While gathering the init: where boxes that belong to the first fragment (styp, prft, …) begin. */
  #prefixStart: number | undefined;
  #hasMoov = false;
  #init: InitInfo | undefined;
  /** Stream offset of the front of the queue. */
  #consumed = 0;
  #failure: ParseError | undefined;
  #initUnits = 0;
  #fragmentUnits = 0;
  #skippedBytes = 0;

  constructor(options: Fmp4SplitterOptions = {}) {
    this.#maxBoxBytes = options.maxBoxBytes ?? defaultMaxBytes;
    this.#maxUnitBytes = options.maxUnitBytes ?? defaultMaxBytes;
  }

  /** Adds a chunk and returns the units it completed, in stream order. */
  push(chunk: Uint8Array): Fmp4Unit[] {
    if (this.#failure !== undefined) throw this.#failure;
    this.#queue.push(chunk);
    const units: Fmp4Unit[] = [];
    try {
      for (let header = this.#nextHeader(); header !== undefined; header = this.#nextHeader()) {
        if (this.#queue.length < this.#scan + header.size) {
          this.#waiting = header;
          break;
        }
        this.#waiting = undefined;
        const unit = this.#onBox(header);
        if (unit !== undefined) units.push(unit);
      }
    } catch (error) {
      if (error instanceof ParseError) this.#failure = error;
      throw error;
    }
    return units;
  }

  /**
   * End of stream: returns the init when the stream held nothing after it, else nothing. Bytes left inside a box
   * or a moof without its mdat mean the stream was cut short: ParseError.
   */
  flush(): Fmp4Unit[] {
    if (this.#failure !== undefined) throw this.#failure;
    const pending = this.#queue.length;
    if (
      this.#phase === 'init' &&
      this.#hasMoov &&
      this.#prefixStart === undefined &&
      this.#scan === pending
    ) {
      const init = this.#takeInit(pending);
      this.#phase = 'between';
      return [init];
    }
    if (pending > 0) {
      this.#failure = new ParseError(
        `stream ended with ${pending} bytes of an unfinished unit`,
        this.#consumed,
      );
      throw this.#failure;
    }
    return [];
  }

  stats(): Fmp4SplitterStats {
    return {
      bytesIn: this.#consumed + this.#queue.length,
      initUnits: this.#initUnits,
      fragmentUnits: this.#fragmentUnits,
      skippedBytes: this.#skippedBytes,
      pendingBytes: this.#queue.length,
    };
  }

  /** The header of the next unframed top-level box, or undefined until enough bytes have arrived. */
  #nextHeader(): BoxHeader | undefined {
    if (this.#waiting !== undefined) return this.#waiting;
    const offset = this.#consumed + this.#scan;
    const header = readBoxHeader(this.#queue.peek(this.#scan, 16), offset, this.#maxBoxBytes);
    if (header === undefined) return undefined;
    // A top-level type that is not printable ASCII means the stream is misframed (ISO/IEC 14496-12 §4.2 types
    // are four-character codes; non-ASCII ones such as '©nam' only appear nested inside metadata boxes).
    if (!/^[\x20-\x7e]{4}$/.test(header.type)) {
      throw new ParseError(
        `top-level box type ${showType(header.type)} is not a four-character code`,
        offset,
      );
    }
    if (this.#scan + header.size > this.#maxUnitBytes) {
      throw new ParseError(`unit would exceed ${this.#maxUnitBytes} bytes`, offset);
    }
    return header;
  }

  #onBox(header: BoxHeader): Fmp4Unit | undefined {
    switch (this.#phase) {
      case 'ftyp':
        // ISO/IEC 14496-12 §4.3: ftyp comes first; CMAF headers start with it (ISO/IEC 23000-19 §7.3.1).
        if (header.type !== 'ftyp') this.#fail(`stream starts with ${showType(header.type)}, not 'ftyp'`);
        this.#phase = 'init';
        this.#scan += header.size;
        return undefined;
      case 'init':
        return this.#onInitBox(header);
      case 'between':
        return this.#onBetweenBox(header);
      case 'moof':
        return this.#onMoofBox(header);
    }
  }

  #onInitBox(header: BoxHeader): Fmp4Unit | undefined {
    switch (header.type) {
      case 'moov':
        if (this.#hasMoov) this.#fail("a second 'moov'");
        this.#hasMoov = true;
        this.#prefixStart = undefined;
        break;
      case 'moof': {
        if (!this.#hasMoov) this.#fail("'moof' before 'moov'");
        const init = this.#takeInit(this.#prefixStart ?? this.#scan);
        this.#phase = 'moof';
        this.#scan += header.size;
        return init;
      }
      case 'mdat':
        this.#fail("'mdat' before any 'moof'");
        break;
      default:
        if (fragmentPrefixTypes.has(header.type) && this.#hasMoov) this.#prefixStart ??= this.#scan;
    }
    this.#scan += header.size;
    return undefined;
  }

  #onBetweenBox(header: BoxHeader): Fmp4Unit | undefined {
    switch (header.type) {
      case 'moof':
        this.#phase = 'moof';
        break;
      case 'mdat':
        this.#fail("'mdat' without a 'moof'");
        break;
      case 'ftyp':
      case 'moov':
        this.#fail(`'${header.type}' after fragments: a new stream needs a new splitter`);
        break;
      default:
        if (this.#scan === 0 && droppedBetweenFragments.has(header.type)) {
          this.#queue.skip(header.size);
          this.#consumed += header.size;
          this.#skippedBytes += header.size;
          return undefined;
        }
    }
    this.#scan += header.size;
    return undefined;
  }

  #onMoofBox(header: BoxHeader): Fmp4Unit | undefined {
    switch (header.type) {
      case 'mdat':
        this.#scan += header.size;
        return this.#takeFragment(this.#scan);
      case 'moof':
        this.#fail("'moof' without its 'mdat'");
        break;
      case 'ftyp':
      case 'moov':
        this.#fail(`'${header.type}' inside a fragment`);
        break;
      default:
      // Other boxes between moof and mdat (ISO/IEC 14496-12 does not forbid them) stay in the fragment.
    }
    this.#scan += header.size;
    return undefined;
  }

  #takeInit(length: number): Fmp4Unit {
    const start = this.#consumed;
    const bytes = this.#take(length);
    const info = withStreamOffset(start, () => parseInit(bytes));
    this.#init = info;
    this.#initUnits += 1;
    return { type: 'init', bytes, info };
  }

  #takeFragment(length: number): Fmp4Unit {
    const init = this.#init;
    if (init === undefined) return this.#fail('fragment before the init segment');
    const start = this.#consumed;
    const bytes = this.#take(length);
    const info = withStreamOffset(start, () => parseFragment(bytes, init));
    this.#phase = 'between';
    this.#fragmentUnits += 1;
    return { type: 'fragment', bytes, info };
  }

  #take(length: number): Uint8Array {
    const bytes = this.#queue.take(length);
    this.#consumed += length;
    this.#scan -= length;
    return bytes;
  }

  #fail(reason: string): never {
    throw new ParseError(reason, this.#consumed + this.#scan);
  }
}

/** Runs a unit parser, moving its ParseError offsets from unit-relative to stream-relative. */
const withStreamOffset = <T>(unitStart: number, parse: () => T): T => {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ParseError) throw new ParseError(error.reason, unitStart + error.offset);
    throw error;
  }
};
