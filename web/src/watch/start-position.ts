/**
 * Where a live player should move when playback begins. hls.js picks its start PART-HOLD-BACK behind the edge of
 * the first playlist, but plays only once it has loaded the parts from the keyframe before that point: it begins
 * further behind (0.3 to 0.9 s with 2 s segments and 0.2 s parts) and keeps the distance. Pure, so it is tested
 * without a browser.
 */

/** The parts of a TimeRanges this needs (a <video>'s `buffered`). */
export interface BufferedRanges {
  readonly length: number;
  start(index: number): number;
  end(index: number): number;
}

export interface StartState {
  /** Seconds behind the live edge now (hls.latency). */
  latency: number;
  /** Seconds behind the edge the player aims for (hls.targetLatency). */
  targetLatency: number;
  /** The media time at the target (hls.liveSyncPosition). */
  targetPosition: number;
  currentTime: number;
  buffered: BufferedRanges;
}

/** Playback that begins this much beyond its target latency is moved forward. */
export const startCatchUpSeconds = 0.2;

/**
 * The media time to move to, or undefined to stay: only forward, only when more than `startCatchUpSeconds`
 * beyond the target, and only within a buffered range (moving there costs no loading and no stall).
 */
export function startCatchUpPosition(state: StartState): number | undefined {
  const { latency, targetLatency, targetPosition, currentTime, buffered } = state;
  if (!(latency - targetLatency > startCatchUpSeconds) || !(targetPosition > currentTime)) return undefined;
  for (let index = 0; index < buffered.length; index++) {
    if (buffered.start(index) <= targetPosition && targetPosition < buffered.end(index))
      return targetPosition;
  }
  return undefined;
}
