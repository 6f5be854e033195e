/**
 * All tracks of one publisher, from RTP and RTCP to frames on the channel clock: each track's TrackIngest, and
 * one PublisherClock that keeps the publisher's audio and video in sync. Pure: bytes and times in, events out.
 */
import type { Codec, EncodedFrame } from './encoded-frame.ts';
import { audioJitterOptions, videoJitterOptions, type JitterBufferOptions } from './jitter-buffer.ts';
import {
  defaultPublisherClockOptions,
  PublisherClock,
  type PublisherClockOptions,
} from './publisher-clock.ts';
import type { SenderReport } from './rtcp.ts';
import type { RtpPacket } from './rtp-packet.ts';
import { TrackIngest, type TrackIngestStats } from './track-ingest.ts';

export type IngestKind = 'audio' | 'video';

export type IngestEvent =
  | { type: 'frame'; frame: EncodedFrame }
  | { type: 'keyframe-request'; kind: IngestKind; reason: string }
  | { type: 'loss'; kind: IngestKind; count: number };

export interface PublisherIngestOptions {
  clock: Omit<PublisherClockOptions, 'epochMs'>;
  jitter: Record<IngestKind, JitterBufferOptions>;
  keyframeIntervalMs: number;
}

export const defaultPublisherIngestOptions: PublisherIngestOptions = {
  clock: defaultPublisherClockOptions,
  jitter: { audio: audioJitterOptions, video: videoJitterOptions },
  keyframeIntervalMs: 500,
};

export class PublisherIngest {
  readonly #options: PublisherIngestOptions;
  readonly #clock: PublisherClock;
  readonly #tracks = new Map<IngestKind, TrackIngest>();
  /** Sender Reports dropped because they did not parse or named no known track. */
  #badRtcp = 0;
  #malformedRtp = 0;

  /** `epochMs`: the channel clock's origin on the caller's monotonic clock. */
  constructor(epochMs: number, options: PublisherIngestOptions = defaultPublisherIngestOptions) {
    this.#options = options;
    this.#clock = new PublisherClock({ ...options.clock, epochMs });
  }

  addTrack(codec: Codec): void {
    const kind: IngestKind = codec === 'opus' ? 'audio' : 'video';
    if (this.#tracks.has(kind)) return;
    this.#tracks.set(
      kind,
      new TrackIngest(codec, this.#options.jitter[kind], this.#options.keyframeIntervalMs),
    );
    this.#clock.addTrack(kind, codec === 'opus' ? 48_000 : 90_000);
  }

  hasTrack(kind: IngestKind): boolean {
    return this.#tracks.has(kind);
  }

  rtp(kind: IngestKind, packet: RtpPacket, nowMs: number): IngestEvent[] {
    const track = this.#tracks.get(kind);
    if (track === undefined) return [];
    return this.#timed(kind, track.push(packet, nowMs));
  }

  senderReport(kind: IngestKind, report: SenderReport, nowMs: number): void {
    if (!this.#tracks.has(kind)) {
      this.#badRtcp += 1;
      return;
    }
    this.#clock.senderReport(kind, report, nowMs);
  }

  /** Counts an RTP or RTCP packet that did not parse (the caller dropped it). */
  countMalformed(what: 'rtp' | 'rtcp'): void {
    if (what === 'rtp') this.#malformedRtp += 1;
    else this.#badRtcp += 1;
  }

  poll(nowMs: number): IngestEvent[] {
    const events: IngestEvent[] = [];
    for (const [kind, track] of this.#tracks) events.push(...this.#timed(kind, track.poll(nowMs)));
    return events;
  }

  requestKeyframe(nowMs: number, reason: string): IngestEvent[] {
    const video = this.#tracks.get('video');
    return video === undefined ? [] : this.#timed('video', video.requestKeyframe(nowMs, reason));
  }

  nextDeadlineMs(): number | undefined {
    let next: number | undefined;
    for (const track of this.#tracks.values()) {
      const deadline = track.nextDeadlineMs();
      if (deadline !== undefined && (next === undefined || deadline < next)) next = deadline;
    }
    return next;
  }

  stats(): {
    tracks: Partial<Record<IngestKind, TrackIngestStats>>;
    clock: ReturnType<PublisherClock['stats']>;
    malformedRtp: number;
    badRtcp: number;
  } {
    const tracks: Partial<Record<IngestKind, TrackIngestStats>> = {};
    for (const [kind, track] of this.#tracks) tracks[kind] = track.stats();
    return { tracks, clock: this.#clock.stats(), malformedRtp: this.#malformedRtp, badRtcp: this.#badRtcp };
  }

  #timed(kind: IngestKind, events: ReturnType<TrackIngest['push']>): IngestEvent[] {
    const out: IngestEvent[] = [];
    for (const event of events) {
      if (event.type === 'frame') {
        const { frame } = event;
        const channelMs = this.#clock.map(kind, frame.rtpTime, event.arrivalMs);
        frame.ptsTicks = Math.round((channelMs * frame.timescale) / 1000);
        out.push({ type: 'frame', frame });
      } else {
        out.push({ ...event, kind });
      }
    }
    return out;
  }
}
