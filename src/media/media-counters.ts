/**
 * Process-wide counters of the media pipeline for /metrics: they only grow, whatever channels come and go (the
 * per-object stats of DescribeChannel go with their objects).
 */
export const mediaCounters = {
  decoderStarts: 0,
  /** Decoders that died on their own and were restarted. */
  decoderRestarts: 0,
  encoderRestarts: 0,
  /** Direct encoders started (a playlist with one publisher encoded by one ffmpeg). */
  directStarts: 0,
  /** Direct encoders that ended on their own (the mixer took over). */
  directFallbacks: 0,
  /** Encoded frames a slow decoder's input dropped (until the next keyframe). */
  decoderVideoDropped: 0,
  /** Mixed pictures a slow encoder's input dropped. */
  encoderPicturesDropped: 0,
  /** Releases of pooled pictures nobody held: a bug in a holder's bookkeeping (picture-pool.ts). */
  picturesReleasedUnheld: 0,
};
