/**
 * One publisher track from RTP packets to encoded frames: jitter buffer → depacketizer, with keyframe requests
 * and loss reported in band. Pure: packets and times in, events out.
 */
import { createDepacketizer } from './depacketizer.ts';
import type { Codec, Depacketizer, DepacketizerOutput, EncodedFrame } from './encoded-frame.ts';
import { JitterBuffer, type JitterBufferOptions, type JitterOutput } from './jitter-buffer.ts';
import { KeyframeRequester } from './keyframe-requester.ts';
import type { RtpPacket } from './rtp-packet.ts';

export type TrackEvent =
  | { type: 'frame'; frame: EncodedFrame; arrivalMs: number }
  | { type: 'keyframe-request'; reason: string }
  | { type: 'loss'; count: number };

export interface TrackIngestStats {
  packets: number;
  bytes: number;
  frames: number;
  keyframes: number;
  keyframeRequests: number;
  jitter: ReturnType<JitterBuffer['stats']>;
  depacketizer: ReturnType<Depacketizer['stats']>;
}

export class TrackIngest {
  readonly kind: 'audio' | 'video';
  readonly codec: Codec;
  readonly #jitter: JitterBuffer;
  readonly #depacketizer: Depacketizer;
  readonly #keyframes: KeyframeRequester;
  #packets = 0;
  #bytes = 0;
  #frames = 0;
  #keyframeCount = 0;

  constructor(codec: Codec, jitter: JitterBufferOptions, keyframeIntervalMs = 500) {
    this.codec = codec;
    this.kind = codec === 'opus' ? 'audio' : 'video';
    this.#jitter = new JitterBuffer(jitter);
    this.#depacketizer = createDepacketizer(codec);
    this.#keyframes = new KeyframeRequester(keyframeIntervalMs, this.kind === 'video');
  }

  push(packet: RtpPacket, nowMs: number): TrackEvent[] {
    this.#packets += 1;
    this.#bytes += packet.payload.length;
    const events = this.#fromJitter(this.#jitter.push(packet, nowMs), nowMs);
    this.#maybeRequest(nowMs, 'no keyframe yet', events);
    return events;
  }

  /** Releases packets that waited long enough and repeats due keyframe requests. */
  poll(nowMs: number): TrackEvent[] {
    const events = this.#fromJitter(this.#jitter.poll(nowMs), nowMs);
    this.#maybeRequest(nowMs, 'no keyframe yet', events);
    return events;
  }

  /** A consumer (a restarted decoder) needs a keyframe. */
  requestKeyframe(nowMs: number, reason: string): TrackEvent[] {
    if (this.kind !== 'video') return [];
    return this.#keyframes.want(nowMs) ? [{ type: 'keyframe-request', reason }] : [];
  }

  nextDeadlineMs(): number | undefined {
    const jitter = this.#jitter.nextDeadlineMs();
    const keyframe = this.#keyframes.nextDueMs();
    if (jitter === undefined) return keyframe;
    return keyframe === undefined ? jitter : Math.min(jitter, keyframe);
  }

  stats(): TrackIngestStats {
    return {
      packets: this.#packets,
      bytes: this.#bytes,
      frames: this.#frames,
      keyframes: this.#keyframeCount,
      keyframeRequests: this.#keyframes.sent,
      jitter: this.#jitter.stats(),
      depacketizer: this.#depacketizer.stats(),
    };
  }

  #maybeRequest(nowMs: number, reason: string, events: TrackEvent[]): void {
    if (this.#keyframes.tick(nowMs)) events.push({ type: 'keyframe-request', reason });
  }

  #fromJitter(outputs: JitterOutput[], nowMs: number): TrackEvent[] {
    const events: TrackEvent[] = [];
    for (const output of outputs) {
      switch (output.type) {
        case 'packet':
          this.#fromDepacketizer(
            this.#depacketizer.push(output.packet.payload, output.rtpTime, output.packet.marker),
            output.arrivalMs,
            nowMs,
            events,
          );
          break;
        case 'lost':
          events.push({ type: 'loss', count: output.count });
          this.#fromDepacketizer(this.#depacketizer.lose(), nowMs, nowMs, events);
          break;
        case 'reset':
          this.#fromDepacketizer(this.#depacketizer.lose(), nowMs, nowMs, events);
          break;
      }
    }
    return events;
  }

  #fromDepacketizer(
    outputs: DepacketizerOutput[],
    arrivalMs: number,
    nowMs: number,
    events: TrackEvent[],
  ): void {
    for (const output of outputs) {
      if (output.type === 'frame') {
        this.#frames += 1;
        if (output.frame.keyframe && this.kind === 'video') {
          this.#keyframeCount += 1;
          this.#keyframes.satisfied();
        }
        events.push({ type: 'frame', frame: output.frame, arrivalMs });
      } else if (this.#keyframes.want(nowMs)) {
        events.push({ type: 'keyframe-request', reason: output.reason });
      }
    }
  }
}
