/**
 * One publisher's audio or video track as the SFU relays it: every RTP packet from the publisher goes to each
 * subscriber's local track (werift's sender then rewrites SSRC, payload type, sequence numbers and timestamps per
 * receiver, and answers the receiver's NACKs from its history). Video starts, for each new subscriber, on a
 * keyframe; keyframe requests (PLI) go upstream at most once per `keyframeIntervalMs`.
 */
import { MediaStreamTrack, type RtpPacket } from 'werift';
import { monotonicMs } from '../lib/clock.ts';
import { MinInterval } from '../lib/rate-limiter.ts';
import { isKeyframeStart, type VideoCodecName } from '../rtp/keyframe.ts';

export type TrackKind = 'audio' | 'video';

export interface PublishedTrackStats {
  packets: number;
  bytes: number;
  keyframeRequestsSent: number;
  keyframeRequestsSuppressed: number;
  subscribers: number;
}

interface Subscription {
  track: MediaStreamTrack;
  /** Off until the receiver's m-line is negotiated and its transport is up: packets sent before are lost. */
  active: boolean;
  waitingForKeyframe: boolean;
}

export interface PublishedTrackInit {
  publisherId: string;
  kind: TrackKind;
  /** Undefined for audio (Opus). */
  videoCodec: VideoCodecName | undefined;
  source: MediaStreamTrack;
  /** Sends a PLI to the publisher. */
  sendKeyframeRequest: () => void;
  keyframeIntervalMs?: number;
}

export class PublishedTrack {
  readonly publisherId: string;
  readonly kind: TrackKind;
  readonly videoCodec: VideoCodecName | undefined;
  readonly #source: MediaStreamTrack;
  readonly #sendKeyframeRequest: () => void;
  readonly #keyframeLimiter: MinInterval;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #stats = { packets: 0, bytes: 0, keyframeRequestsSent: 0, keyframeRequestsSuppressed: 0 };
  readonly #packetListeners = new Set<(rtp: RtpPacket) => void>();
  #unsubscribe: (() => void) | undefined;

  constructor(init: PublishedTrackInit) {
    this.publisherId = init.publisherId;
    this.kind = init.kind;
    this.videoCodec = init.videoCodec;
    this.#source = init.source;
    this.#sendKeyframeRequest = init.sendKeyframeRequest;
    this.#keyframeLimiter = new MinInterval(init.keyframeIntervalMs ?? 500);
  }

  start(): void {
    const { unSubscribe } = this.#source.onReceiveRtp.subscribe((rtp) => {
      this.#forward(rtp);
    });
    this.#unsubscribe = unSubscribe;
    if (this.kind === 'video') this.requestKeyframe();
  }

  /** A new receiver: returns the local track to give to its RTP sender. Nothing flows until `activate`. */
  subscribe(subscriberId: string): MediaStreamTrack {
    this.unsubscribe(subscriberId);
    const track = new MediaStreamTrack({ kind: this.kind });
    this.#subscriptions.set(subscriberId, {
      track,
      active: false,
      waitingForKeyframe: this.kind === 'video',
    });
    return track;
  }

  /**
   * The receiver can now take packets: start forwarding, video from the next keyframe (requested now).
   * Starting earlier would spend the keyframe on a sender that cannot send yet, and the receiver would then
   * get only pictures it cannot decode.
   */
  activate(subscriberId: string): void {
    const subscription = this.#subscriptions.get(subscriberId);
    if (subscription === undefined || subscription.active) return;
    subscription.active = true;
    if (this.kind === 'video') this.requestKeyframe();
  }

  unsubscribe(subscriberId: string): void {
    const subscription = this.#subscriptions.get(subscriberId);
    if (subscription === undefined) return;
    this.#subscriptions.delete(subscriberId);
    subscription.track.stop();
  }

  /** Observers of the raw RTP (ingest); a throwing listener is isolated from forwarding. */
  onPacket(listener: (rtp: RtpPacket) => void): () => void {
    this.#packetListeners.add(listener);
    return () => this.#packetListeners.delete(listener);
  }

  /** Asks the publisher for a keyframe, at most once per interval. Audio ignores it. */
  requestKeyframe(): void {
    if (this.kind !== 'video') return;
    if (!this.#keyframeLimiter.tryNow(monotonicMs())) {
      this.#stats.keyframeRequestsSuppressed += 1;
      return;
    }
    this.#stats.keyframeRequestsSent += 1;
    this.#sendKeyframeRequest();
  }

  stats(): PublishedTrackStats {
    return { ...this.#stats, subscribers: this.#subscriptions.size };
  }

  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const id of [...this.#subscriptions.keys()]) this.unsubscribe(id);
    this.#packetListeners.clear();
  }

  #forward(rtp: RtpPacket): void {
    this.#stats.packets += 1;
    this.#stats.bytes += rtp.payload.length;
    let keyframe: boolean | undefined;
    for (const subscription of this.#subscriptions.values()) {
      if (!subscription.active) continue;
      if (subscription.waitingForKeyframe && this.videoCodec !== undefined) {
        keyframe ??= isKeyframeStart(this.videoCodec, rtp.payload);
        if (!keyframe) {
          this.requestKeyframe();
          continue;
        }
        subscription.waitingForKeyframe = false;
      }
      subscription.track.writeRtp(rtp);
    }
    for (const listener of this.#packetListeners) {
      try {
        listener(rtp);
      } catch {
        // Ingest faults are counted by the ingest itself; forwarding goes on.
      }
    }
  }
}
