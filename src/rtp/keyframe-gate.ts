/**
 * The loss rule every video depacketizer shares. A decoder can only start from a keyframe, and a frame that
 * lost a packet, or that depends on one that did, is garbage to it. So after a loss or a broken frame (and at
 * the start of a stream) frames are dropped until the next keyframe, and a keyframe is asked for in band, once
 * per episode: the PLI sender upstream (RFC 4585 §6.3.1) should not be flooded at frame rate.
 *
 * An episode ends when a keyframe is handed on. It also restarts when a keyframe itself has to be dropped
 * (it may have been the answer to our request, so that request is spent and another one is made).
 */
import type { DepacketizerOutput, DepacketizerStats, EncodedFrame } from './encoded-frame.ts';

export class KeyframeGate {
  readonly #stats: DepacketizerStats;
  /** Frames are dropped until a keyframe; true at the start of a stream. */
  #isWaiting = true;
  /** A keyframe-needed was already emitted in this episode. */
  #hasRequested = false;

  /** `stats` is the depacketizer's own counters object: the gate counts `frames` and `droppedFrames` in it. */
  constructor(stats: DepacketizerStats) {
    this.#stats = stats;
  }

  /** Something broke the stream (a loss, a malformed packet): wait for a keyframe and ask for one. */
  fail(reason: string, out: DepacketizerOutput[]): void {
    this.#isWaiting = true;
    this.#request(reason, out);
  }

  /** A frame that will never be handed on (broken, or its head was lost). */
  drop(reason: string, out: DepacketizerOutput[]): void {
    this.#stats.droppedFrames += 1;
    this.fail(reason, out);
  }

  /** A keyframe that cannot be used: the request it may have answered is spent, so ask again. */
  dropKeyframe(reason: string, out: DepacketizerOutput[]): void {
    this.#hasRequested = false;
    this.drop(reason, out);
  }

  /** A complete, intact frame: handed on unless it depends on something lost. */
  offer(frame: EncodedFrame, out: DepacketizerOutput[]): void {
    if (frame.keyframe) {
      this.#isWaiting = false;
      this.#hasRequested = false;
    } else if (this.#isWaiting) {
      this.drop('waiting for a keyframe', out);
      return;
    }
    this.#stats.frames += 1;
    out.push({ type: 'frame', frame });
  }

  #request(reason: string, out: DepacketizerOutput[]): void {
    if (this.#hasRequested) return;
    this.#hasRequested = true;
    out.push({ type: 'keyframe-needed', reason });
  }
}
