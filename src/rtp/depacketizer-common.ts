/** What the depacketizers share besides the loss rule (KeyframeGate): counters, options, byte joining. */
import type { DepacketizerStats } from './encoded-frame.ts';

/** A fresh set of counters for a depacketizer. */
export function emptyDepacketizerStats(): DepacketizerStats {
  return { packets: 0, frames: 0, malformedPackets: 0, droppedFrames: 0 };
}

/** Joins the copies a depacketizer kept (one copy, or the only chunk as is). */
export function concatBytes(chunks: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const only = chunks[0];
  if (chunks.length === 1 && only !== undefined) return only;
  const out = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Upper bound on one frame's bytes while it is being assembled. A sender that never sets the marker would
 * otherwise grow the buffer without bound (STYLE.md: every buffer is bounded). 8 MiB is far above any real
 * WebRTC keyframe (a 4K intra frame at high quality is about 1-2 MB).
 */
export const defaultMaxFrameBytes = 8 * 1024 * 1024;

export interface DepacketizerOptions {
  /** Bound on one frame being assembled (default `defaultMaxFrameBytes`); larger frames are malformed. */
  maxFrameBytes?: number;
}
