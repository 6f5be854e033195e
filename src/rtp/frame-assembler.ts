/**
 * Frame reassembly for payload formats that mark where a frame starts (VP8: S=1 and PID=0, RFC 7741 §4.2;
 * VP9: B=1, RFC 9628 §4.2) and where it ends (VP8: the marker bit, RFC 7741 §4.1; VP9: E=1). Each codec
 * parses its descriptor into a FramePart; this class keeps copies of the payloads and applies the loss rule
 * (KeyframeGate).
 *
 * Because the start is marked, a frame whose first packet arrives is known to be whole once its end arrives
 * without a loss in between; a packet that continues a frame whose start was never seen is the tail of a
 * lost frame (right after a loss or at the start) or malformed (otherwise).
 */
import type { DepacketizerOutput, DepacketizerStats, VideoCodec } from './encoded-frame.ts';
import { concatBytes, defaultMaxFrameBytes, type DepacketizerOptions } from './depacketizer-common.ts';
import { KeyframeGate } from './keyframe-gate.ts';

export type FramePart =
  /** `data` is the codec payload with the descriptor stripped: a view into the caller's bytes. */
  | { kind: 'part'; isStart: boolean; isKeyframe: boolean; data: Uint8Array }
  | { kind: 'malformed'; reason: string };

interface Frame {
  rtpTime: number;
  chunks: Uint8Array[];
  bytes: number;
  isKeyframe: boolean;
  /** A packet of it was lost or malformed, or its start was not seen: it is dropped at its end. */
  isBroken: boolean;
}

export class FrameAssembler {
  readonly #codec: VideoCodec;
  readonly #stats: DepacketizerStats;
  readonly #gate: KeyframeGate;
  readonly #maxFrameBytes: number;
  #frame: Frame | undefined;
  /** The next packet follows a loss, or is the first one: a frame whose start is missing is no surprise. */
  #isAfterGap = true;

  /** `stats` is the depacketizer's counters object; this class counts into it. */
  constructor(codec: VideoCodec, stats: DepacketizerStats, options: DepacketizerOptions = {}) {
    this.#codec = codec;
    this.#stats = stats;
    this.#gate = new KeyframeGate(stats);
    this.#maxFrameBytes = options.maxFrameBytes ?? defaultMaxFrameBytes;
  }

  /** One packet of the frame at `rtpTime`; `isEnd` when it is the frame's last packet. */
  push(part: FramePart, rtpTime: number, isEnd: boolean, out: DepacketizerOutput[]): void {
    const current = this.#frame;
    if (current !== undefined && current.rtpTime !== rtpTime) {
      this.#frame = undefined;
      this.#gate.drop(current.isBroken ? 'broken frame' : 'frame unfinished when the timestamp changed', out);
    }
    if (part.kind === 'malformed') this.#malformed(rtpTime, part.reason, out);
    else if (part.isStart) this.#start(part, rtpTime, out);
    else this.#continue(part.data, rtpTime, out);
    this.#isAfterGap = false;
    if (isEnd) this.#finish(out);
  }

  lose(out: DepacketizerOutput[]): void {
    if (this.#frame !== undefined) this.#break(this.#frame);
    this.#gate.fail('packet loss', out);
    this.#isAfterGap = true;
  }

  /** Drops a whole frame the depacketizer will not assemble (counted, nothing else). */
  skip(): void {
    this.#stats.droppedFrames += 1;
  }

  #start(part: Extract<FramePart, { kind: 'part' }>, rtpTime: number, out: DepacketizerOutput[]): void {
    if (this.#frame !== undefined) {
      if (!this.#frame.isBroken)
        this.#malformed(rtpTime, 'a frame started before the previous one ended', out);
      return;
    }
    const data = part.data.slice();
    this.#frame = {
      rtpTime,
      chunks: [data],
      bytes: data.length,
      isKeyframe: part.isKeyframe,
      isBroken: false,
    };
    if (data.length > this.#maxFrameBytes) this.#malformed(rtpTime, this.#tooLarge(), out);
  }

  #continue(data: Uint8Array, rtpTime: number, out: DepacketizerOutput[]): void {
    const frame = this.#frame;
    if (frame === undefined) {
      // The tail of a frame whose start was lost: broken, and already reported by the loss (or, at the
      // start of the stream, reported when it is dropped).
      if (this.#isAfterGap)
        this.#frame = { rtpTime, chunks: [], bytes: 0, isKeyframe: false, isBroken: true };
      else this.#malformed(rtpTime, 'a packet continues a frame that never started', out);
    } else if (!frame.isBroken) {
      if (frame.bytes + data.length > this.#maxFrameBytes) {
        this.#malformed(rtpTime, this.#tooLarge(), out);
        return;
      }
      frame.chunks.push(data.slice());
      frame.bytes += data.length;
    }
  }

  #finish(out: DepacketizerOutput[]): void {
    const frame = this.#frame;
    if (frame === undefined) return;
    this.#frame = undefined;
    if (frame.isBroken) {
      this.#gate.drop('broken frame', out);
      return;
    }
    const encoded = {
      kind: 'video',
      codec: this.#codec,
      keyframe: frame.isKeyframe,
      data: concatBytes(frame.chunks, frame.bytes),
      rtpTime: frame.rtpTime,
      timescale: 90000,
    } as const;
    this.#gate.offer(encoded, out);
  }

  /** Counts a malformed packet and breaks the frame of its timestamp (starting a broken one if need be). */
  #malformed(rtpTime: number, reason: string, out: DepacketizerOutput[]): void {
    this.#stats.malformedPackets += 1;
    this.#frame ??= { rtpTime, chunks: [], bytes: 0, isKeyframe: false, isBroken: true };
    this.#break(this.#frame);
    this.#gate.fail(`malformed packet: ${reason}`, out);
  }

  #break(frame: Frame): void {
    frame.isBroken = true;
    frame.chunks = [];
    frame.bytes = 0;
  }

  #tooLarge(): string {
    return `frame larger than ${this.#maxFrameBytes} bytes`;
  }
}
