/**
 * Where an encoder run's segments begin, in seconds from the run's start: at 0, at `firstSeconds`, then at every
 * multiple of `segmentSeconds`. The encoder forces a keyframe at each boundary and the packager cuts a segment at
 * the first keyframe on or after it, so the two agree without talking.
 *
 * The first segment is short because players start only once a playlist lists a complete segment: hls.js 1.7
 * answers a playlist holding only the parts of an open segment with levelEmptyError and retries 1 s, then 2 s
 * later; a first segment of three parts makes a new stream (or one whose encoder restarted) playable within about
 * PART-HOLD-BACK of its first frame instead of a whole segment.
 */
export interface SegmentSchedule {
  segmentSeconds: number;
  /** The second boundary; equal to segmentSeconds when there is no short first segment. */
  firstSeconds: number;
}

/** Part targets in the first segment: what a player holds back from the live edge (PART-HOLD-BACK). */
const firstSegmentParts = 3;

/**
 * The schedule of variants of `frameRates` (whole frames a second) whose segments last `segmentSeconds` (whole
 * seconds, so every boundary after the first is on every variant's frame grid). The first boundary is three part
 * targets, rounded up to the grid all the frame rates share (1/gcd s), so it too falls on a frame of every
 * variant and their segments stay aligned.
 */
export function segmentScheduleFor(
  segmentSeconds: number,
  partTargetSeconds: number,
  frameRates: readonly number[],
): SegmentSchedule {
  const gridHz = frameRates.reduce(gcd, 0) || 1;
  // 1e-6 absorbs binary fractions: 3 × 0.2 is 0.6000000000000001, which must stay 0.6.
  const firstSeconds = Math.ceil(firstSegmentParts * partTargetSeconds * gridHz - 1e-6) / gridHz;
  return { segmentSeconds, firstSeconds: Math.min(segmentSeconds, firstSeconds) };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** The first boundary after `runSeconds`. */
export function nextBoundary(schedule: SegmentSchedule, runSeconds: number): number {
  if (runSeconds < schedule.firstSeconds) return schedule.firstSeconds;
  return (Math.floor(runSeconds / schedule.segmentSeconds + 1e-9) + 1) * schedule.segmentSeconds;
}

/**
 * The boundaries as an ffmpeg `-force_key_frames` expression, evaluated at each frame with `t` its time and
 * `n_forced` the keyframes forced so far: a keyframe is forced at the first frame on or after the next boundary.
 * `t` gets 1 ms of slack, so a frame on a boundary that binary fractions put a hair before it (46/30 s against
 * 23/15 s) still counts; frames are at least 1/60 s apart.
 */
export function forceKeyframesExpression(schedule: SegmentSchedule): string {
  const { segmentSeconds, firstSeconds } = schedule;
  if (firstSeconds >= segmentSeconds) return `expr:gte(t+0.001,n_forced*${segmentSeconds})`;
  return `expr:gte(t+0.001,if(eq(n_forced,1),${firstSeconds},max(n_forced-1,0)*${segmentSeconds}))`;
}
