/**
 * Jitter buffer for one RTP stream: puts packets back in sequence order, drops duplicates and late packets, waits
 * a bounded time for missing ones while the transport NACKs them (werift's receiver sends RFC 4585 §6.2.1 generic
 * NACKs for every gap), then declares them lost — in band, so the depacketizer knows a frame is broken.
 * Time is given by the caller (monotonic ms): the buffer is pure.
 *
 * Memory is bounded whatever the sender does: at most `capacity` packets are held and at most `maxMissing`
 * gaps are remembered (to count retransmissions that repaired them).
 */
import type { RtpPacket } from './rtp-packet.ts';
import { SequenceUnwrapper, TimestampUnwrapper } from './seq.ts';

export interface JitterBufferOptions {
  /** How long the first packet after a gap waits for the missing ones before they are declared lost. */
  maxWaitMs: number;
  /** Packets held at most; past it the oldest gap is declared lost. */
  capacity: number;
  /** A jump of more sequence numbers than this is a sender restart, not loss. */
  resetThreshold: number;
}

export const videoJitterOptions: JitterBufferOptions = {
  maxWaitMs: 250,
  capacity: 1024,
  resetThreshold: 3000,
};

export const audioJitterOptions: JitterBufferOptions = {
  maxWaitMs: 80,
  capacity: 128,
  resetThreshold: 3000,
};

export interface OrderedPacket {
  packet: RtpPacket;
  extendedSeq: number;
  /** Unwrapped RTP timestamp. */
  rtpTime: number;
  arrivalMs: number;
}

export type JitterOutput =
  | ({ type: 'packet' } & OrderedPacket)
  | { type: 'lost'; firstExtendedSeq: number; count: number }
  | { type: 'reset' };

export interface JitterBufferStats {
  received: number;
  released: number;
  duplicates: number;
  late: number;
  lost: number;
  /** Packets that filled a gap after later ones had arrived (reordered, or repaired by retransmission). */
  recovered: number;
  resets: number;
}

const maxMissing = 512;

export class JitterBuffer {
  readonly #options: JitterBufferOptions;
  readonly #seq = new SequenceUnwrapper();
  readonly #time = new TimestampUnwrapper();
  readonly #held = new Map<number, OrderedPacket>();
  readonly #missing = new Set<number>();
  /** The next sequence number to release; undefined before the first packet. */
  #next: number | undefined;
  #highest = 0;
  readonly #stats: JitterBufferStats = {
    received: 0,
    released: 0,
    duplicates: 0,
    late: 0,
    lost: 0,
    recovered: 0,
    resets: 0,
  };

  constructor(options: JitterBufferOptions) {
    this.#options = options;
  }

  push(packet: RtpPacket, nowMs: number): JitterOutput[] {
    this.#stats.received += 1;
    const extendedSeq = this.#seq.unwrap(packet.sequenceNumber);
    const rtpTime = this.#time.unwrap(packet.timestamp);
    const out: JitterOutput[] = [];
    if (this.#next === undefined) {
      this.#next = extendedSeq;
      this.#highest = extendedSeq;
    } else if (Math.abs(extendedSeq - this.#highest) > this.#options.resetThreshold) {
      this.#reset(extendedSeq, out);
    } else if (extendedSeq < this.#next) {
      this.#stats.late += 1;
      return out;
    }
    if (this.#held.has(extendedSeq)) {
      this.#stats.duplicates += 1;
      return out;
    }
    if (this.#missing.delete(extendedSeq)) this.#stats.recovered += 1;
    if (extendedSeq > this.#highest) {
      for (let seq = this.#highest + 1; seq < extendedSeq; seq++) this.#missing.add(seq);
      this.#trimMissing();
      this.#highest = extendedSeq;
    }
    this.#held.set(extendedSeq, { packet, extendedSeq, rtpTime, arrivalMs: nowMs });
    this.#release(nowMs, out);
    return out;
  }

  /** Releases what waited long enough; call it when `nextDeadlineMs` passes. */
  poll(nowMs: number): JitterOutput[] {
    const out: JitterOutput[] = [];
    this.#release(nowMs, out);
    return out;
  }

  /** The time at which `poll` will next have something to do, if any. */
  nextDeadlineMs(): number | undefined {
    const first = this.#firstHeld();
    return first === undefined ? undefined : first.arrivalMs + this.#options.maxWaitMs;
  }

  stats(): JitterBufferStats & { held: number; missing: number } {
    return { ...this.#stats, held: this.#held.size, missing: this.#missing.size };
  }

  /** The lowest held packet. Scans up from `#next`: gaps are short, and bounded by resetThreshold. */
  #firstHeld(): OrderedPacket | undefined {
    if (this.#held.size === 0 || this.#next === undefined) return undefined;
    for (let seq = this.#next; seq <= this.#highest; seq++) {
      const entry = this.#held.get(seq);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  #release(nowMs: number, out: JitterOutput[]): void {
    for (;;) {
      if (this.#next === undefined) return;
      const ready = this.#held.get(this.#next);
      if (ready !== undefined) {
        this.#held.delete(this.#next);
        this.#next += 1;
        this.#stats.released += 1;
        out.push({ type: 'packet', ...ready });
        continue;
      }
      const first = this.#firstHeld();
      if (first === undefined) return;
      const waitedEnough = nowMs - first.arrivalMs >= this.#options.maxWaitMs;
      if (!waitedEnough && this.#held.size <= this.#options.capacity) return;
      const count = first.extendedSeq - this.#next;
      for (let seq = this.#next; seq < first.extendedSeq; seq++) this.#missing.delete(seq);
      out.push({ type: 'lost', firstExtendedSeq: this.#next, count });
      this.#stats.lost += count;
      this.#next = first.extendedSeq;
    }
  }

  #reset(extendedSeq: number, out: JitterOutput[]): void {
    this.#stats.resets += 1;
    this.#held.clear();
    this.#missing.clear();
    this.#next = extendedSeq;
    this.#highest = extendedSeq;
    out.push({ type: 'reset' });
  }

  #trimMissing(): void {
    if (this.#missing.size <= maxMissing) return;
    const excess = this.#missing.size - maxMissing;
    let removed = 0;
    for (const seq of this.#missing) {
      if (removed >= excess) break;
      this.#missing.delete(seq);
      removed += 1;
    }
  }
}
