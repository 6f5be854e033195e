/**
 * Cheap shape checks on an SDP answer before it reaches werift, which accepts some malformed SDP without an
 * error (an answer with no media sections left a session "connected" with no transport).
 * RFC 3264 §6: the answer MUST have exactly as many media sections as the offer.
 */

export function mediaSectionCount(sdp: string): number {
  let count = 0;
  for (const line of sdp.split(/\r?\n/)) if (line.startsWith('m=')) count += 1;
  return count;
}

/** Why `answer` cannot answer `offer`, or undefined when its shape is right. */
export function answerShapeProblem(offer: string, answer: string): string | undefined {
  if (!answer.startsWith('v=0')) return 'it does not start with v=0';
  const expected = mediaSectionCount(offer);
  const actual = mediaSectionCount(answer);
  if (actual !== expected) return `it has ${actual} media sections, the offer has ${expected}`;
  return undefined;
}
