/**
 * The one frame type that crosses every boundary after depacketizing (DESIGN.md): what it is, its bytes, and
 * its time in ticks with the timescale they count.
 */

export type AudioCodec = 'opus';
export type VideoCodec = 'H264' | 'VP8' | 'VP9';
export type Codec = AudioCodec | VideoCodec;

export interface EncodedFrame {
  kind: 'audio' | 'video';
  codec: Codec;
  /** A frame a decoder can start from (H.264 IDR with SPS/PPS, VP8/VP9 key frame); always true for audio. */
  keyframe: boolean;
  /** H.264: Annex-B (start codes). VP8/VP9: one compressed frame. Opus: one Opus packet (RFC 6716). */
  data: Uint8Array;
  /** The RTP timestamp, unwrapped to a monotonic 53-bit count at the codec's clock rate. */
  rtpTime: number;
  /** Presentation time on the channel clock, in `timescale` ticks; set by the clock stage. */
  ptsTicks?: number;
  timescale: number;
}

/** What a depacketizer hands on: frames, and in-band requests. */
export type DepacketizerOutput =
  { type: 'frame'; frame: EncodedFrame } | { type: 'keyframe-needed'; reason: string };

export interface DepacketizerStats {
  packets: number;
  frames: number;
  /** Packets that broke the payload format: counted and dropped, never thrown. */
  malformedPackets: number;
  /** Frames dropped because a packet of theirs (or of a frame they depend on) was lost. */
  droppedFrames: number;
}

export interface Depacketizer {
  readonly codec: Codec;
  /**
   * One packet, in sequence order (the jitter buffer's output), with its unwrapped RTP time.
   * Returns the frames completed by it. Never throws on bad payloads: they are counted.
   */
  push(payload: Uint8Array, rtpTime: number, marker: boolean): DepacketizerOutput[];
  /** Packets were lost for good just before the next `push`: any frame in progress is broken. */
  lose(): DepacketizerOutput[];
  stats(): DepacketizerStats;
}
