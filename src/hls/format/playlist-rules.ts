/**
 * The rules of RFC 8216bis-16 that a playlist writer can break, checked on the input before anything is written:
 * a violation throws a PlaylistRuleError (a RangeError) that names the field path and the rule. Also the small
 * computations the writer shares with them (printed durations, the protocol version, which segments keep their
 * parts).
 */
import type {
  MediaPlaylistInput,
  MediaSegment,
  MultivariantPlaylistInput,
  PartialSegment,
  VariantStream,
} from './playlist.ts';

/** A playlist input that breaks a rule of RFC 8216bis. */
export class PlaylistRuleError extends RangeError {
  override name = 'PlaylistRuleError';
}

const fail = (path: string, rule: string): never => {
  throw new PlaylistRuleError(`${path}: ${rule}`);
};

/**
 * A decimal-floating-point (§4.2) with five decimals, trailing zeros trimmed to one: 2 → "2.0",
 * 0.333333 → "0.33333", 4.00008 → "4.00008". Five decimals keep accumulated error far below a frame.
 */
export const formatSeconds = (seconds: number): string => {
  const trimmed = seconds.toFixed(5).replace(/0+$/, '');
  const text = trimmed.endsWith('.') ? `${trimmed}0` : trimmed;
  return text === '-0.0' ? '0.0' : text;
};

/** The value a client reads back: rules about written durations are checked on it, not on the input. */
const printed = (seconds: number): number => Number(formatSeconds(seconds));

/**
 * The PART-HOLD-BACK this writer asks for: three times the part target as a client reads it back, rounded up to
 * the printed precision. (3 × a part target of 8/30 s is 0.8, but a client reads the target as 0.26667 and three
 * times that as 0.80001.)
 */
export const partHoldBackFor = (partTargetSeconds: number): number =>
  Math.ceil(3 * printed(partTargetSeconds) * 1e5 - 1e-6) / 1e5;

/** Comparisons of printed values allow for binary floating point (3 × 0.33334 is 1.0000200000000001). */
const epsilon = 1e-9;

const checkInteger = (value: number, path: string, min: number): void => {
  if (!Number.isSafeInteger(value) || value < min) fail(path, `${value} is not an integer ≥ ${min}`);
};

const checkPositive = (value: number, path: string): void => {
  if (!Number.isFinite(value) || value <= 0) fail(path, `${value} is not a positive number of seconds`);
};

/**
 * A URI written as a quoted-string or a URI line (§4.1, §4.2): non-empty, no control characters (line breaks
 * would end the line), no double quote (it would end the quoted-string), and a URI line must not start with '#'.
 */
const checkUri = (uri: string, path: string): void => {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (uri.length === 0 || /["\u0000-\u001f\u007f]/.test(uri) || uri.startsWith('#')) {
    fail(path, `${JSON.stringify(uri)} cannot be written in a playlist`);
  }
};

/** Checks a multivariant playlist input; returns the EXT-X-VERSION to write. */
export const validateMultivariant = (input: MultivariantPlaylistInput): number => {
  if (input.variants.length === 0) {
    fail('variants', 'a multivariant playlist needs a variant stream (§4.4.6.2)');
  }
  input.variants.forEach((variant, index) => {
    checkVariant(variant, `variants[${index}]`);
  });
  // Protocol Version Compatibility (RFC 8216bis §8, Protocol Version Compatibility): no tag written here needs more than version 1.
  const needed = 1;
  if (input.version !== undefined) checkInteger(input.version, 'version', needed);
  return input.version ?? needed;
};

/** EXT-X-STREAM-INF attributes (§4.4.6.2). */
const checkVariant = (variant: VariantStream, path: string): void => {
  checkUri(variant.uri, `${path}.uri`);
  checkInteger(variant.bandwidth, `${path}.bandwidth`, 1);
  if (variant.averageBandwidth !== undefined) {
    checkInteger(variant.averageBandwidth, `${path}.averageBandwidth`, 1);
    if (variant.averageBandwidth > variant.bandwidth) {
      fail(
        `${path}.averageBandwidth`,
        `${variant.averageBandwidth} is above the peak BANDWIDTH ${variant.bandwidth}`,
      );
    }
  }
  const codecs = codecList(variant.codecs);
  if (codecs.length === 0) fail(`${path}.codecs`, 'CODECS SHOULD list every format in the variant');
  codecs.forEach((codec, index) => {
    // RFC 6381 §3.2 codec strings: letters, digits and '.', '-', '+'; a comma or quote would break the list.
    if (!/^[A-Za-z0-9][A-Za-z0-9.+-]*$/.test(codec)) {
      fail(`${path}.codecs[${index}]`, `${JSON.stringify(codec)} is not an RFC 6381 codec string`);
    }
  });
  if (variant.resolution !== undefined) {
    checkInteger(variant.resolution.width, `${path}.resolution.width`, 1);
    checkInteger(variant.resolution.height, `${path}.resolution.height`, 1);
  }
  if (variant.frameRate !== undefined) checkPositive(variant.frameRate, `${path}.frameRate`);
};

/** A CODECS value as a list: given as one, or as the comma-separated text of the attribute. */
export const codecList = (codecs: readonly string[] | string): readonly string[] =>
  typeof codecs === 'string' ? codecs.split(',') : codecs;

/** The EXT-X-MAP URI in effect for each segment: its own, else the one before it, else the playlist's. */
export const mapsInEffect = (input: MediaPlaylistInput): (string | undefined)[] => {
  let current = input.mapUri;
  return input.segments.map((segment) => (current = segment.mapUri ?? current));
};

/** The duration a segment adds to the playlist: its EXTINF once complete, else the sum of its parts so far. */
export const segmentSeconds = (segment: MediaSegment): number =>
  segment.complete
    ? segment.durationSeconds
    : (segment.parts ?? []).reduce((sum, part) => sum + part.durationSeconds, 0);

/**
 * EXT-X-VERSION for a media playlist (RFC 8216bis §8, Protocol Version Compatibility): EXTINF with decimals
 * needs 3, EXT-X-MAP in a playlist that is not I-frames-only needs 6, EXT-X-SKIP needs 9. A playlist that offers
 * delta updates (CAN-SKIP-UNTIL) states 9 in its full form too, so its version never changes between reloads.
 */
export const requiredMediaVersion = (input: MediaPlaylistInput): number => {
  if (input.skip !== undefined || input.serverControl?.canSkipUntilSeconds !== undefined) return 9;
  return mapsInEffect(input).some((map) => map !== undefined) ? 6 : 3;
};

/**
 * Index of the first segment whose EXT-X-PART tags are written: the caller's count of newest segments, or by
 * default every segment that starts at most three target durations before the end of the playlist (§6.2.2:
 * "EXT-X-PART tags SHOULD be removed from the Playlist after they are greater than three Target Durations from
 * the end of the Playlist"). An incomplete last segment is always written as its parts.
 */
export const listedPartsFrom = (input: MediaPlaylistInput): number => {
  const count = input.segments.length;
  if (input.partWindowSegments !== undefined) return Math.max(0, count - input.partWindowSegments);
  const horizon = 3 * input.targetDurationSeconds + epsilon;
  let fromEnd = 0;
  let first = count;
  for (let index = count - 1; index >= 0; index--) {
    const segment = input.segments[index];
    if (segment === undefined) break;
    fromEnd += segmentSeconds(segment);
    if (fromEnd > horizon) break;
    first = index;
  }
  return first;
};

/** Checks a media playlist input against the rules of RFC 8216bis; throws RangeError naming the field. */
export const validateMediaPlaylist = (input: MediaPlaylistInput): void => {
  checkInteger(input.targetDurationSeconds, 'targetDurationSeconds', 1);
  if (input.partTargetSeconds !== undefined) checkPositive(input.partTargetSeconds, 'partTargetSeconds');
  checkInteger(input.mediaSequence, 'mediaSequence', 0);
  if (input.discontinuitySequence !== undefined) {
    checkInteger(input.discontinuitySequence, 'discontinuitySequence', 0);
  }
  checkMaps(input);
  if (input.startTimeOffset !== undefined && !Number.isFinite(input.startTimeOffset)) {
    fail('startTimeOffset', `${input.startTimeOffset} is not a number of seconds`);
  }
  if (input.partWindowSegments !== undefined) checkInteger(input.partWindowSegments, 'partWindowSegments', 1);
  checkSegments(input);
  checkServerControl(input);
  checkSkip(input);
  checkTrailer(input);
};

/** Every segment has an initialization section once any has (fMP4 segments cannot be decoded without one). */
const checkMaps = (input: MediaPlaylistInput): void => {
  if (input.mapUri !== undefined) checkUri(input.mapUri, 'mapUri');
  input.segments.forEach((segment, index) => {
    if (segment.mapUri !== undefined) checkUri(segment.mapUri, `segments[${index}].mapUri`);
  });
  const maps = mapsInEffect(input);
  if (maps.some((map) => map !== undefined) && maps[0] === undefined) {
    fail(
      'segments[0].mapUri',
      'later segments have an EXT-X-MAP, so the first needs one (or the playlist mapUri)',
    );
  }
};

const checkSegments = (input: MediaPlaylistInput): void => {
  const { segments } = input;
  if (segments.length === 0) fail('segments', 'a media playlist needs a segment or a part to list');
  segments.forEach((segment, index) => {
    const path = `segments[${index}]`;
    const expected = input.mediaSequence + index;
    if (segment.msn !== expected) {
      fail(
        `${path}.msn`,
        `${segment.msn} should be ${expected}: media sequence numbers are consecutive (§4.4.3.2)`,
      );
    }
    if (!segment.complete) checkIncomplete(input, segment, index);
    else checkComplete(input, segment, path);
    if (segment.programDateTime !== undefined && Number.isNaN(segment.programDateTime.getTime())) {
      fail(`${path}.programDateTime`, 'is an invalid Date');
    }
    checkParts(input, segment, path);
  });
};

const checkIncomplete = (input: MediaPlaylistInput, segment: MediaSegment, index: number): void => {
  const path = `segments[${index}]`;
  if (index !== input.segments.length - 1) {
    fail(`${path}.complete`, 'only the last segment may be incomplete');
  }
  if (input.ended === true) {
    fail(`${path}.complete`, 'an ended playlist cannot end with an incomplete segment');
  }
  if ((segment.parts ?? []).length === 0) {
    fail(`${path}.parts`, 'an incomplete segment is written as its parts, and it has none');
  }
};

const checkComplete = (input: MediaPlaylistInput, segment: MediaSegment, path: string): void => {
  checkUri(segment.uri, `${path}.uri`);
  checkPositive(segment.durationSeconds, `${path}.durationSeconds`);
  // §4.4.3.1: "The EXTINF duration of each Media Segment in a Playlist file, when rounded to the nearest
  // integer, MUST be less than or equal to the Target Duration".
  const rounded = Math.round(printed(segment.durationSeconds));
  if (rounded > input.targetDurationSeconds) {
    fail(
      `${path}.durationSeconds`,
      `${segment.durationSeconds} rounds to ${rounded}, above the target duration ${input.targetDurationSeconds} (§4.4.3.1)`,
    );
  }
};

/** EXT-X-PART rules (§4.4.4.9). */
const checkParts = (input: MediaPlaylistInput, segment: MediaSegment, path: string): void => {
  const parts = segment.parts ?? [];
  if (parts.length === 0) return;
  if (input.partTargetSeconds === undefined) {
    return fail(
      `${path}.parts`,
      'parts need partTargetSeconds (EXT-X-PART-INF is REQUIRED with parts, §4.4.3.7)',
    );
  }
  const target = printed(input.partTargetSeconds);
  parts.forEach((part, index) => {
    checkPart(part, `${path}.parts[${index}]`, target, index === parts.length - 1);
  });
  if (!segment.complete) return;
  // "A Parent Segment and its entire set of Partial Segments MUST contain the same set of media samples".
  const sum = parts.reduce((total, part) => total + part.durationSeconds, 0);
  if (Math.abs(sum - segment.durationSeconds) > 0.001) {
    fail(`${path}.parts`, `add up to ${sum} s, not the segment's ${segment.durationSeconds} s (§4.4.4.9)`);
  }
};

/**
 * "The duration of a Partial Segment MUST be less than or equal to the Part Target Duration. The duration of each
 * Partial Segment MUST be at least 85% of the Part Target Duration, with the exception of Partial Segments with
 * the INDEPENDENT=YES or GAP=YES attribute, [...] and the final Partial Segment of any Parent Segment." The last
 * part listed for the incomplete segment is also exempt: it may turn out to be its segment's final part.
 */
const checkPart = (part: PartialSegment, path: string, target: number, isLast: boolean): void => {
  checkUri(part.uri, `${path}.uri`);
  checkPositive(part.durationSeconds, `${path}.durationSeconds`);
  const duration = printed(part.durationSeconds);
  if (duration > target + epsilon) {
    fail(`${path}.durationSeconds`, `${duration} is above the part target ${target} (§4.4.4.9)`);
  }
  if (!isLast && !part.independent && duration < 0.85 * target - epsilon) {
    fail(`${path}.durationSeconds`, `${duration} is under 85% of the part target ${target} (§4.4.4.9)`);
  }
};

/** EXT-X-SERVER-CONTROL (§4.4.3.8). */
const checkServerControl = (input: MediaPlaylistInput): void => {
  const control = input.serverControl;
  const path = 'serverControl';
  const target = input.targetDurationSeconds;
  if (input.partTargetSeconds !== undefined && control?.partHoldBackSeconds === undefined) {
    fail(`${path}.partHoldBackSeconds`, 'PART-HOLD-BACK is REQUIRED if the Playlist contains EXT-X-PART-INF');
  }
  if (control === undefined) return;
  if (control.partHoldBackSeconds !== undefined) {
    const partHoldBack = printed(control.partHoldBackSeconds);
    if (input.partTargetSeconds === undefined) fail(`${path}.partHoldBackSeconds`, 'needs partTargetSeconds');
    // The RFC's MUST is twice the part target; this writer holds itself to the SHOULD, three times, which
    // leaves a client three parts of buffer at the live edge.
    const least = 3 * printed(input.partTargetSeconds ?? 0);
    if (partHoldBack < least - epsilon) {
      fail(`${path}.partHoldBackSeconds`, `${partHoldBack} is under 3 × PART-TARGET`);
    }
  }
  if (control.canSkipUntilSeconds !== undefined) {
    checkPositive(control.canSkipUntilSeconds, `${path}.canSkipUntilSeconds`);
    if (printed(control.canSkipUntilSeconds) < 6 * target) {
      fail(`${path}.canSkipUntilSeconds`, `the Skip Boundary MUST be at least six times the Target Duration`);
    }
  }
  if (control.holdBackSeconds !== undefined && printed(control.holdBackSeconds) < 3 * target) {
    fail(`${path}.holdBackSeconds`, 'HOLD-BACK MUST be at least three times the Target Duration');
  }
};

/** Playlist Delta Updates (§4.4.5.2, §6.2.5.1). */
const checkSkip = (input: MediaPlaylistInput): void => {
  if (input.skip === undefined) return;
  const skipped = input.skip.skippedSegments;
  checkInteger(skipped, 'skip.skippedSegments', 1);
  const boundary = input.serverControl?.canSkipUntilSeconds;
  if (boundary === undefined) {
    return fail('skip', 'a delta update needs serverControl.canSkipUntilSeconds (CAN-SKIP-UNTIL)');
  }
  if (skipped >= input.segments.length) fail('skip.skippedSegments', 'would skip every segment');
  // Segments within the Skip Boundary of the end must be listed: what is not skipped spans at least that long.
  const listed = input.segments.slice(skipped).reduce((sum, segment) => sum + segmentSeconds(segment), 0);
  if (listed + epsilon < boundary) {
    fail(
      'skip.skippedSegments',
      `leaves ${listed} s listed, less than CAN-SKIP-UNTIL ${boundary} s (§6.2.5.1)`,
    );
  }
};

/** EXT-X-PRELOAD-HINT (§4.4.5.3) and EXT-X-RENDITION-REPORT (§4.4.5.4). */
const checkTrailer = (input: MediaPlaylistInput): void => {
  if (input.preloadHint !== undefined) {
    checkUri(input.preloadHint.uri, 'preloadHint.uri');
    if (input.partTargetSeconds === undefined) {
      fail('preloadHint', 'a TYPE=PART hint needs partTargetSeconds');
    }
    if (input.ended === true) fail('preloadHint', 'an ended playlist has no next part to hint');
  }
  (input.renditionReports ?? []).forEach((report, index) => {
    const path = `renditionReports[${index}]`;
    checkUri(report.uri, `${path}.uri`);
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(report.uri)) {
      fail(`${path}.uri`, 'MUST be relative to the URI of the Media Playlist containing it (§4.4.5.4)');
    }
    checkInteger(report.lastMsn, `${path}.lastMsn`, 0);
    if (report.lastPart !== undefined) checkInteger(report.lastPart, `${path}.lastPart`, 0);
    else if (input.partTargetSeconds !== undefined) {
      fail(`${path}.lastPart`, 'LAST-PART is REQUIRED when the playlist has EXT-X-PART-INF');
    }
  });
};
