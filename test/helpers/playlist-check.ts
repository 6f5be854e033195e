/**
 * Reads rendered playlists back with hls-parser (a parser we did not write) in strict mode, and checks that what it
 * read matches the renderer's input: every field a client acts on.
 */
import assert from 'node:assert/strict';
import { parse, setOptions, types } from 'hls-parser';
import {
  formatSeconds,
  type MediaPlaylistInput,
  type MultivariantPlaylistInput,
} from '../../src/hls/format/playlist.ts';

/** Parses in strict mode: any rule hls-parser knows that the text breaks throws. */
export const parseStrict = (text: string): types.MasterPlaylist | types.MediaPlaylist => {
  setOptions({ strictMode: true, silent: true });
  return parse(text);
};

export const parseMedia = (text: string): types.MediaPlaylist => {
  const parsed = parseStrict(text);
  if (parsed.isMasterPlaylist) return assert.fail('parsed as a multivariant playlist');
  return parsed;
};

/** The value a client reads for a duration the renderer wrote. */
const printed = (seconds: number): number => Number(formatSeconds(seconds));

/** Which segments are expected to be written with their parts: by index, given the part window rule. */
export type PartsShown = (index: number) => boolean;

/** Checks hls-parser's reading of `text` against `input`; `partsShown` says which segments list parts. */
export const expectMediaMatches = (text: string, input: MediaPlaylistInput, partsShown: PartsShown): void => {
  const parsed = parseMedia(text);
  const skipped = input.skip?.skippedSegments ?? 0;
  assert.equal(parsed.targetDuration, input.targetDurationSeconds);
  assert.equal(parsed.mediaSequenceBase ?? 0, input.mediaSequence);
  assert.equal(parsed.discontinuitySequenceBase ?? 0, input.discontinuitySequence ?? 0);
  assert.equal(parsed.skip, skipped);
  assert.equal(parsed.endlist, input.ended === true);
  assert.equal(parsed.partTargetDuration, input.partTargetSeconds && printed(input.partTargetSeconds));
  assert.deepEqual(
    parsed.start,
    input.startTimeOffset === undefined
      ? undefined
      : { offset: printed(input.startTimeOffset), precise: false },
  );
  expectServerControl(parsed, input);
  const listed = input.segments.slice(skipped);
  const last = listed.at(-1);
  // hls-parser reads a preload hint after a complete segment as one more segment holding only the hint.
  const trailingHint = input.preloadHint !== undefined && last?.complete === true;
  assert.equal(parsed.segments.length, listed.length + (trailingHint ? 1 : 0));
  listed.forEach((segment, offset) => {
    const got = parsed.segments[offset]!;
    const where = `segment ${segment.msn}`;
    assert.equal(got.mediaSequenceNumber, segment.msn, where);
    assert.equal(got.uri, segment.complete ? segment.uri : '', where);
    if (segment.complete) assert.equal(got.duration, printed(segment.durationSeconds), where);
    assert.equal(got.discontinuity ?? false, segment.discontinuity ?? false, where);
    assert.equal(got.programDateTime?.getTime(), segment.programDateTime?.getTime(), where);
    const parts = partsShown(offset + skipped) || !segment.complete ? (segment.parts ?? []) : [];
    assert.deepEqual(
      got.parts
        .filter((part) => !part.hint)
        .map((part) => [part.uri, part.duration, part.independent ?? false]),
      parts.map((part) => [part.uri, printed(part.durationSeconds), part.independent]),
      where,
    );
  });
  const hints =
    parsed.segments
      .at(-1)
      ?.parts.filter((part) => part.hint)
      .map((part) => part.uri) ?? [];
  assert.deepEqual(hints, input.preloadHint === undefined ? [] : [input.preloadHint.uri]);
  assert.deepEqual(
    parsed.renditionReports.map((r) => [r.uri, r.lastMSN, r.lastPart]),
    (input.renditionReports ?? []).map((r) => [r.uri, r.lastMsn, r.lastPart]),
  );
};

const expectServerControl = (parsed: types.MediaPlaylist, input: MediaPlaylistInput): void => {
  const control = input.serverControl;
  if (control === undefined) {
    assert.equal(parsed.lowLatencyCompatibility, undefined);
    return;
  }
  const seconds = (value: number | undefined) => (value === undefined ? undefined : printed(value));
  assert.deepEqual(parsed.lowLatencyCompatibility, {
    canBlockReload: control.canBlockReload,
    canSkipUntil: seconds(control.canSkipUntilSeconds),
    holdBack: seconds(control.holdBackSeconds),
    partHoldBack: seconds(control.partHoldBackSeconds),
  });
};

export const expectMultivariantMatches = (text: string, input: MultivariantPlaylistInput): void => {
  const parsed = parseStrict(text);
  if (!parsed.isMasterPlaylist) return assert.fail('parsed as a media playlist');
  assert.equal(parsed.independentSegments, input.independentSegments === true);
  assert.deepEqual(
    parsed.variants.map((v) => [v.uri, v.bandwidth, v.averageBandwidth, v.codecs, v.resolution, v.frameRate]),
    input.variants.map((v) => [
      v.uri,
      v.bandwidth,
      v.averageBandwidth,
      typeof v.codecs === 'string' ? v.codecs : v.codecs.join(','),
      v.resolution,
      v.frameRate === undefined ? undefined : Number(v.frameRate.toFixed(3)),
    ]),
  );
};
