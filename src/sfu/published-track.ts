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

/** Observers never break forwarding: their faults are theirs to count and log. */
function isolate(run: () => void): void {
  try {
    run();
  } catch {
    // deliberately ignored, see above
  }
}

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

/** What the transport (werift's receiver) did for this track: NACKs and PLIs it sent, packets it never got. */
export interface TransportStats {
  nacksSent: number;
  plisSent: number;
  packetsLost: number;
}

export interface PublishedTrackInit {
  publisherId: string;
  /** The publisher's client_id (its connect message's, or its connection_id). */
  clientId?: string | undefined;
  kind: TrackKind;
  /** Undefined for audio (Opus). */
  videoCodec: VideoCodecName | undefined;
  source: MediaStreamTrack;
  /** Sends a PLI to the publisher. */
  sendKeyframeRequest: () => void;
  /** Reads the receiver's inbound-rtp statistics. */
  transportStats?: () => Promise<TransportStats>;
  keyframeIntervalMs?: number;
}

export class PublishedTrack {
  readonly publisherId: string;
  readonly clientId: string | undefined;
  readonly kind: TrackKind;
  readonly videoCodec: VideoCodecName | undefined;
  readonly #source: MediaStreamTrack;
  readonly #sendKeyframeRequest: () => void;
  readonly #transportStats: (() => Promise<TransportStats>) | undefined;
  readonly #keyframeLimiter: MinInterval;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #stats = { packets: 0, bytes: 0, keyframeRequestsSent: 0, keyframeRequestsSuppressed: 0 };
  readonly #packetListeners = new Set<(rtp: RtpPacket) => void>();
  readonly #rtcpListeners = new Set<(rtcp: Uint8Array) => void>();
  readonly #closeListeners = new Set<() => void>();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(init: PublishedTrackInit) {
    this.publisherId = init.publisherId;
    this.clientId = init.clientId;
    this.kind = init.kind;
    this.videoCodec = init.videoCodec;
    this.#source = init.source;
    this.#sendKeyframeRequest = init.sendKeyframeRequest;
    this.#transportStats = init.transportStats;
    this.#keyframeLimiter = new MinInterval(init.keyframeIntervalMs ?? 500);
  }

  start(): void {
    const rtp = this.#source.onReceiveRtp.subscribe((packet) => {
      this.#forward(packet);
    });
    const rtcp = this.#source.onReceiveRtcp.subscribe((packet) => {
      if (this.#rtcpListeners.size === 0) return;
      const bytes = packet.serialize();
      for (const listener of this.#rtcpListeners)
        isolate(() => {
          listener(bytes);
        });
    });
    this.#unsubscribe = () => {
      rtp.unSubscribe();
      rtcp.unSubscribe();
    };
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

  /** Observers of the publisher's RTCP Sender Reports for this track, serialised. */
  onRtcp(listener: (rtcp: Uint8Array) => void): () => void {
    this.#rtcpListeners.add(listener);
    return () => this.#rtcpListeners.delete(listener);
  }

  /** Called once when the track ends (its publisher left). */
  onClose(listener: () => void): () => void {
    if (this.#closed) {
      listener();
      return () => undefined;
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
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

  async transportStats(): Promise<TransportStats> {
    return (await this.#transportStats?.()) ?? { nacksSent: 0, plisSent: 0, packetsLost: 0 };
  }

  stats(): PublishedTrackStats {
    return { ...this.#stats, subscribers: this.#subscriptions.size };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const id of [...this.#subscriptions.keys()]) this.unsubscribe(id);
    this.#packetListeners.clear();
    this.#rtcpListeners.clear();
    for (const listener of this.#closeListeners) isolate(listener);
    this.#closeListeners.clear();
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
    for (const listener of this.#packetListeners)
      isolate(() => {
        listener(rtp);
      });
  }
}
