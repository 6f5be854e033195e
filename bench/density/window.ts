/**
 * Whether channels kept real time over a measuring window, from running totals read at its two ends: shared by
 * the pipeline's channels (bench/density.ts) and the whole server's (server-round.ts).
 */

/** What says whether a channel kept real time, as running totals. */
export interface ChannelCounters {
  parts: number;
  /** Pictures dropped (decoder, mixer, encoder), mixer ticks skipped, processes restarted. */
  troubles: number;
  latePictures: number;
}

export interface WindowVerdict {
  /** The channel that listed the fewest parts: its parts / the parts the window holds. */
  worstPartsShare: number;
  troubles: number;
  latePictures: number;
  keptRealTime: boolean;
}

/**
 * Over a window of `wallMs`: a channel keeps real time when it listed at least `minPartsShare` of the parts the
 * window holds (one part of slack: the window's two ends fall inside parts) and nothing went wrong in any.
 */
export function judgeWindow(
  start: readonly ChannelCounters[],
  end: readonly ChannelCounters[],
  wallMs: number,
  partSeconds: number,
  minPartsShare: number,
): WindowVerdict {
  const expectedParts = wallMs / 1000 / partSeconds;
  let fewestParts = Number.POSITIVE_INFINITY;
  let troubles = 0;
  let latePictures = 0;
  end.forEach((after, index) => {
    const before = start[index] ?? { parts: 0, troubles: 0, latePictures: 0 };
    fewestParts = Math.min(fewestParts, after.parts - before.parts);
    troubles += after.troubles - before.troubles;
    latePictures += after.latePictures - before.latePictures;
  });
  return {
    worstPartsShare: Number((fewestParts / expectedParts).toFixed(3)),
    troubles,
    latePictures,
    keptRealTime: (fewestParts + 1) / expectedParts >= minPartsShare && troubles === 0,
  };
}
