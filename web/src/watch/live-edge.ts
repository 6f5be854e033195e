/**
 * Where a live player should be, and how it gets there. hls.js picks its start PART-HOLD-BACK behind the edge of
 * the first playlist, but plays only once it has loaded the parts from the keyframe before that point: it begins
 * further behind (0.3 to 0.9 s with 2 s segments and 0.2 s parts) and keeps the distance, as it does the time of
 * any stall. Its own catch-up (`maxLiveSyncPlaybackRate`) acts only with more than a second buffered, which a
 * target of 0.6 s never has. So the page moves forward once when playback begins (into what is buffered), and
 * after that plays a little faster while it is well behind its target. Pure, so it is tested without a browser.
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

export interface CatchUpState {
  /** Behind the live edge now (hls.latency). */
  latencySeconds: number;
  /** Behind the edge where the player aims to be (hls.targetLatency). */
  targetSeconds: number;
  /** Buffered ahead of the current time. */
  bufferedAheadSeconds: number;
  /** The playback rate now. */
  rate: number;
}

export const catchUp = {
  /** The rate while catching up: 0.1 s gained each second, with the pitch kept (browsers keep it by default). */
  rate: 1.1,
  /** Beyond the target by more than this, catching up starts… */
  startSeconds: 0.15,
  /** …and it goes on until within this. */
  stopSeconds: 0.05,
  /** Never with this little buffered ahead: playing it faster would stall sooner. */
  minBufferSeconds: 0.3,
  /** Further behind than this the viewer chose to be (a rewind, a long pause): left alone; Go live returns. */
  maxBehindSeconds: 3,
} as const;

/**
 * The playback rate to play at: `catchUp.rate` while well behind the target (with hysteresis, so it does not flap
 * at the threshold), not so far behind that the viewer chose it, and with enough buffered ahead; else 1.
 */
export function catchUpRate(state: CatchUpState): number {
  const excess = state.latencySeconds - state.targetSeconds;
  if (!(state.bufferedAheadSeconds > catchUp.minBufferSeconds) || !Number.isFinite(excess)) return 1;
  if (excess > catchUp.maxBehindSeconds) return 1;
  const threshold = state.rate > 1 ? catchUp.stopSeconds : catchUp.startSeconds;
  return excess > threshold ? catchUp.rate : 1;
}

/** Seconds buffered ahead of `time`: to the end of the range holding it, 0 if none does. */
export function bufferedAhead(buffered: BufferedRanges, time: number): number {
  for (let index = 0; index < buffered.length; index++) {
    if (buffered.start(index) <= time && time < buffered.end(index)) return buffered.end(index) - time;
  }
  return 0;
}
