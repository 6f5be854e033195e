/**
 * HLS playlist writers (RFC 8216bis-16, "HTTP Live Streaming 2nd Edition", with its Low-Latency extensions):
 * the multivariant playlist and the media playlist, with partial segments, preload hints, rendition reports,
 * server control and delta updates. Pure: plain objects in, playlist text out. Inputs that would make an invalid
 * playlist throw a PlaylistRuleError (a RangeError) naming the field and the rule (see playlist-rules.ts).
 */
import {
  codecList,
  formatSeconds,
  listedPartsFrom,
  partHoldBackFor,
  mapsInEffect,
  PlaylistRuleError,
  requiredMediaVersion,
  segmentSeconds,
  validateMediaPlaylist,
  validateMultivariant,
} from './playlist-rules.ts';

export { formatSeconds, partHoldBackFor, PlaylistRuleError };

export interface Resolution {
  readonly width: number;
  readonly height: number;
}

export interface VariantStream {
  readonly uri: string;
  /** Peak bit rate in bits per second (BANDWIDTH, RFC 8216bis §4.4.6.2). */
  readonly bandwidth: number;
  /** Average bit rate in bits per second (AVERAGE-BANDWIDTH); at most `bandwidth`. */
  readonly averageBandwidth?: number;
  /**
   * RFC 6381 codec strings of every format in the variant: a list, ['avc1.64001F', 'mp4a.40.2'], or the
   * comma-separated text of the CODECS attribute, 'avc1.64001F,mp4a.40.2'.
   */
  readonly codecs: readonly string[] | string;
  readonly resolution?: Resolution;
  /** Maximum frame rate; written rounded to three decimals (FRAME-RATE). */
  readonly frameRate?: number;
}

export interface MultivariantPlaylistInput {
  /**
   * Written in the order given: clients start with the first variant listed (RFC 8216bis §6.3.1 leaves the pick
   * to them; Apple's and most clients' first choice is the first entry), so the caller decides which one that is.
   */
  readonly variants: readonly VariantStream[];
  /** EXT-X-INDEPENDENT-SEGMENTS (§4.4.2.1): every segment starts with a keyframe. */
  readonly independentSegments?: boolean;
  /**
   * EXT-X-VERSION to state. Default: the least that the tags written need (RFC 8216bis §8, Protocol Version
   * Compatibility: none of them needs more than 1).
   * A caller may state its media playlists' version instead; less than needed is a RangeError.
   */
  readonly version?: number;
}

export interface PartialSegment {
  readonly uri: string;
  readonly durationSeconds: number;
  /** The part starts with a sync sample (INDEPENDENT=YES, §4.4.4.9). */
  readonly independent: boolean;
}

export interface MediaSegment {
  /** Media sequence number; consecutive from `mediaSequence`. */
  readonly msn: number;
  /** Ignored while the segment is incomplete. */
  readonly uri: string;
  /** EXTINF duration; ignored while the segment is incomplete (its parts' durations count instead). */
  readonly durationSeconds: number;
  readonly programDateTime?: Date | undefined;
  readonly discontinuity?: boolean | undefined;
  /**
   * EXT-X-MAP of this segment and the ones after it (a new encoder generation brings a new init); default the
   * map in effect before it, starting with the playlist's `mapUri`.
   */
  readonly mapUri?: string | undefined;
  /** All parts of the segment, in order. Written only near the live edge (see `partWindowSegments`). */
  readonly parts?: readonly PartialSegment[] | undefined;
  /** False for the segment still being produced: only the last may be incomplete, and it is written as parts. */
  readonly complete: boolean;
}

export interface ServerControl {
  /** CAN-BLOCK-RELOAD=YES (§4.4.3.8): the origin answers `_HLS_msn`/`_HLS_part` blocking requests. */
  readonly canBlockReload: boolean;
  /** PART-HOLD-BACK; required with parts. Validated ≥ 3 × part target (§4.4.3.8 SHOULD; its MUST is 2×). */
  readonly partHoldBackSeconds?: number;
  /** CAN-SKIP-UNTIL (the Skip Boundary, §4.4.3.8); at least 6 × target duration. */
  readonly canSkipUntilSeconds?: number;
  /** HOLD-BACK; at least 3 × target duration. */
  readonly holdBackSeconds?: number;
}

export interface RenditionReport {
  /** Relative to this playlist's URI (§4.4.5.4). */
  readonly uri: string;
  readonly lastMsn: number;
  /** Required when the playlist has parts. */
  readonly lastPart?: number;
}

export interface MediaPlaylistInput {
  /** EXT-X-TARGETDURATION: an integer ≥ every EXTINF rounded to the nearest integer (§4.4.3.1). */
  readonly targetDurationSeconds: number;
  /** EXT-X-PART-INF PART-TARGET (§4.4.3.7); needed when any segment has parts. */
  readonly partTargetSeconds?: number;
  /** Media sequence number of the first segment, skipped ones included (EXT-X-MEDIA-SEQUENCE, §4.4.3.2). */
  readonly mediaSequence: number;
  /** EXT-X-DISCONTINUITY-SEQUENCE (§4.4.3.3); written when not 0. */
  readonly discontinuitySequence?: number;
  /** EXT-X-MAP URI of the initialization segment (fMP4) for the segments that do not name their own. */
  readonly mapUri?: string;
  readonly segments: readonly MediaSegment[];
  /** EXT-X-PRELOAD-HINT TYPE=PART (§4.4.5.3): the next part, before it exists. */
  readonly preloadHint?: { readonly uri: string };
  readonly renditionReports?: readonly RenditionReport[];
  readonly serverControl?: ServerControl;
  /** Playlist Delta Update (§4.4.5.2, §6.2.5.1): the first N segments are replaced by EXT-X-SKIP. */
  readonly skip?: { readonly skippedSegments: number };
  /** EXT-X-START:TIME-OFFSET=…,PRECISE=NO (§4.4.2.2); negative counts from the end. */
  readonly startTimeOffset?: number;
  /** EXT-X-ENDLIST (§4.4.3.4): no more segments will be added. */
  readonly ended?: boolean;
  /**
   * How many of the newest segments keep their EXT-X-PART tags. Default: those that start within three target
   * durations of the end of the playlist — §6.2.2: parts SHOULD be removed once they are more than three target
   * durations from the end.
   */
  readonly partWindowSegments?: number;
}

/** A quoted-string attribute value (§4.2); the rules have already refused quotes and line breaks in it. */
const quoted = (value: string): string => `"${value}"`;

export const renderMultivariant = (input: MultivariantPlaylistInput): string => {
  const version = validateMultivariant(input);
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${version}`];
  if (input.independentSegments === true) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  for (const variant of input.variants) lines.push(streamInf(variant), variant.uri);
  return `${lines.join('\n')}\n`;
};

/** EXT-X-STREAM-INF (§4.4.6.2). */
const streamInf = (variant: VariantStream): string => {
  const attributes = [`BANDWIDTH=${variant.bandwidth}`];
  if (variant.averageBandwidth !== undefined) {
    attributes.push(`AVERAGE-BANDWIDTH=${variant.averageBandwidth}`);
  }
  attributes.push(`CODECS=${quoted(codecList(variant.codecs).join(','))}`);
  if (variant.resolution !== undefined) {
    attributes.push(`RESOLUTION=${variant.resolution.width}x${variant.resolution.height}`);
  }
  if (variant.frameRate !== undefined) attributes.push(`FRAME-RATE=${variant.frameRate.toFixed(3)}`);
  return `#EXT-X-STREAM-INF:${attributes.join(',')}`;
};

export interface RenderOptions {
  /**
   * Check the input against RFC 8216bis first (the default), throwing PlaylistRuleError. The origin renders
   * unchecked only after a check failed: a playlist slightly off the rules plays in most players, an error plays
   * in none.
   */
  validate?: boolean;
}

export const renderMediaPlaylist = (input: MediaPlaylistInput, options: RenderOptions = {}): string => {
  if (options.validate !== false) validateMediaPlaylist(input);
  const skipped = input.skip?.skippedSegments ?? 0;
  const partsFrom = listedPartsFrom(input);
  const maps = mapsInEffect(input);
  const lines = mediaHeader(input);
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  input.segments.forEach((segment, index) => {
    if (index < skipped) return;
    // EXT-X-MAP (§4.4.4.5) before the first listed segment and wherever the map changes; after EXT-X-SKIP, so
    // a delta update states the map of the segments it lists.
    const map = maps[index];
    const newMap = map !== undefined && (index === skipped || map !== maps[index - 1]) ? map : undefined;
    lines.push(...segmentLines(segment, newMap, index >= partsFrom));
  });
  if (input.preloadHint !== undefined) {
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI=${quoted(input.preloadHint.uri)}`);
  }
  for (const report of input.renditionReports ?? []) lines.push(renditionReport(report));
  if (input.ended === true) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
};

/** The playlist-wide tags (§4.4.3), before the first segment. */
const mediaHeader = (input: MediaPlaylistInput): string[] => {
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${requiredMediaVersion(input)}`,
    `#EXT-X-TARGETDURATION:${input.targetDurationSeconds}`,
  ];
  if (input.serverControl !== undefined) lines.push(serverControl(input.serverControl));
  if (input.partTargetSeconds !== undefined) {
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${formatSeconds(input.partTargetSeconds)}`);
  }
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${input.mediaSequence}`);
  const discontinuitySequence = input.discontinuitySequence ?? 0;
  if (discontinuitySequence !== 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`);
  if (input.startTimeOffset !== undefined) {
    lines.push(`#EXT-X-START:TIME-OFFSET=${formatSeconds(input.startTimeOffset)},PRECISE=NO`);
  }
  return lines;
};

/** EXT-X-SERVER-CONTROL (§4.4.3.8). */
const serverControl = (control: ServerControl): string => {
  const attributes: string[] = [];
  if (control.canBlockReload) attributes.push('CAN-BLOCK-RELOAD=YES');
  if (control.canSkipUntilSeconds !== undefined) {
    attributes.push(`CAN-SKIP-UNTIL=${formatSeconds(control.canSkipUntilSeconds)}`);
  }
  if (control.holdBackSeconds !== undefined) {
    attributes.push(`HOLD-BACK=${formatSeconds(control.holdBackSeconds)}`);
  }
  if (control.partHoldBackSeconds !== undefined) {
    attributes.push(`PART-HOLD-BACK=${formatSeconds(control.partHoldBackSeconds)}`);
  }
  return `#EXT-X-SERVER-CONTROL:${attributes.join(',')}`;
};

/**
 * One segment: EXT-X-DISCONTINUITY, EXT-X-MAP and EXT-X-PROGRAM-DATE-TIME first (§4.4.4.9: tags that apply to
 * the parent segment MUST come before its first EXT-X-PART), then its parts, then EXTINF and the URI once it is
 * complete.
 */
const segmentLines = (segment: MediaSegment, mapUri: string | undefined, withParts: boolean): string[] => {
  const lines: string[] = [];
  if (segment.discontinuity === true) lines.push('#EXT-X-DISCONTINUITY');
  if (mapUri !== undefined) lines.push(`#EXT-X-MAP:URI=${quoted(mapUri)}`);
  if (segment.programDateTime !== undefined) {
    // §4.4.4.6: ISO 8601 with milliseconds and a time zone.
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${segment.programDateTime.toISOString()}`);
  }
  if (withParts || !segment.complete) {
    for (const part of segment.parts ?? []) {
      const independent = part.independent ? ',INDEPENDENT=YES' : '';
      lines.push(
        `#EXT-X-PART:DURATION=${formatSeconds(part.durationSeconds)},URI=${quoted(part.uri)}${independent}`,
      );
    }
  }
  if (segment.complete) lines.push(`#EXTINF:${formatSeconds(segmentSeconds(segment))},`, segment.uri);
  return lines;
};

/** EXT-X-RENDITION-REPORT (§4.4.5.4). */
const renditionReport = (report: RenditionReport): string => {
  const lastPart = report.lastPart === undefined ? '' : `,LAST-PART=${report.lastPart}`;
  return `#EXT-X-RENDITION-REPORT:URI=${quoted(report.uri)},LAST-MSN=${report.lastMsn}${lastPart}`;
};
