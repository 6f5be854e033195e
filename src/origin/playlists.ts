/**
 * From a channel's packagers to playlist text, through the pure renderers of src/hls/format/playlist.ts.
 */
import {
  partHoldBackFor,
  renderMediaPlaylist,
  renderMultivariant,
  type MediaPlaylistInput,
} from '../hls/format/playlist.ts';
import type { VariantPackager } from '../hls/variant-packager.ts';
import type { HlsStream } from '../media/hls-output.ts';

/** Media playlist URI of variant `index`, relative to the multivariant playlist. */
export const variantUri = (stream: HlsStream, index: number, format: 'fmp4' | 'ts' = 'fmp4'): string =>
  `${stream.runId}/v${index}/${format === 'ts' ? 'ts' : 'index'}.m3u8`;

/** The multivariant playlist of the LL-HLS fMP4 variants (index.m3u8), or of their MPEG-TS twins (ts.m3u8). */
export function renderMultivariantFor(stream: HlsStream, format: 'fmp4' | 'ts' = 'fmp4'): string {
  return renderMultivariant({
    independentSegments: true,
    variants: stream.variants.map((variant, index) => {
      const codecs = stream.packagers[index]?.codecs ?? [];
      const average = variant.video.bps + variant.audio.bps;
      return {
        uri: variantUri(stream, index, format),
        // Peak: x264's VBV holds the video rate per buffer; allow 10 % for container overhead.
        bandwidth: Math.round(average * 1.1),
        averageBandwidth: average,
        codecs: codecs.join(','),
        resolution: { width: variant.video.width, height: variant.video.height },
        frameRate: variant.video.fps,
      };
    }),
  });
}

/**
 * Parts are listed for the segments that start less than this many target durations before the live edge (RFC
 * 8216bis §4.4.4.9: removed once greater than three; hls-parser also wants them on the last three segments only).
 */
const partWindowTargets = 3;

/**
 * Media playlist of variant `index`: LL-HLS with parts near the live edge, a preload hint for the next part,
 * rendition reports of the other variants (RFC 8216bis §4.4.5.4) and, on request, a delta update. With
 * `validate: false` it is rendered without checking the rules first (see RenderOptions).
 */
export function renderMediaFor(stream: HlsStream, index: number, skip: boolean, validate = true): string {
  const packager = stream.packagers[index];
  if (packager === undefined) throw new RangeError(`no variant ${index}`);
  const renditionReports = stream.packagers.flatMap((other, otherIndex) => {
    const last = other.lastPart;
    if (otherIndex === index || last === undefined) return [];
    return [{ uri: `../v${otherIndex}/index.m3u8`, lastMsn: last[0], lastPart: last[1] }];
  });
  const startTimeOffset = stream.variants[index]?.startTimeOffset;
  const extra = { renditionReports, ...(startTimeOffset === undefined ? {} : { startTimeOffset }) };
  return renderMediaPlaylist(variantPlaylist(packager, skip, extra), { validate });
}

function variantPlaylist(
  packager: VariantPackager,
  skip: boolean,
  extra: { renditionReports: { uri: string; lastMsn: number; lastPart: number }[]; startTimeOffset?: number },
): MediaPlaylistInput {
  const { segments } = packager;
  const target = packager.targetDurationSeconds;
  const part = packager.options.partTargetSeconds;
  const canSkipUntil = 6 * target;
  let liveEdge = 0;
  for (const segment of segments) liveEdge += segment.durationSeconds;
  let skippable = 0;
  if (skip) {
    // Segments older than CAN-SKIP-UNTIL from the live edge may be skipped (RFC 8216bis §4.4.5.2).
    let age = liveEdge;
    for (const segment of segments) {
      if (!segment.complete || age - segment.durationSeconds < canSkipUntil) break;
      age -= segment.durationSeconds;
      skippable += 1;
    }
  }
  let fromEdge = liveEdge;
  const next = packager.nextPart;
  const nextPart = next === undefined ? undefined : `${next[0]}.${next[1]}.m4s`;
  return {
    targetDurationSeconds: target,
    partTargetSeconds: part,
    mediaSequence: segments[0]?.msn ?? 0,
    discontinuitySequence: packager.discontinuitySequence,
    serverControl: {
      canBlockReload: true,
      partHoldBackSeconds: partHoldBackFor(part),
      canSkipUntilSeconds: canSkipUntil,
    },
    segments: segments.map((segment) => {
      const withParts = fromEdge < partWindowTargets * target - 0.001 || !segment.complete;
      fromEdge -= segment.durationSeconds;
      return {
        msn: segment.msn,
        uri: `${segment.msn}.m4s`,
        mapUri: `init${segment.initId}.mp4`,
        durationSeconds: segment.durationSeconds,
        programDateTime: segment.programDateTime,
        discontinuity: segment.discontinuity,
        complete: segment.complete,
        ...(withParts
          ? {
              parts: segment.parts.map((p) => ({
                uri: `${segment.msn}.${p.index}.m4s`,
                durationSeconds: p.durationSeconds,
                independent: p.independent,
              })),
            }
          : {}),
      };
    }),
    ...(skippable > 0 ? { skip: { skippedSegments: skippable } } : {}),
    ...(nextPart !== undefined && !packager.ended ? { preloadHint: { uri: nextPart } } : {}),
    ...(extra.renditionReports.length > 0 && !packager.ended
      ? { renditionReports: extra.renditionReports }
      : {}),
    ...(extra.startTimeOffset === undefined ? {} : { startTimeOffset: extra.startTimeOffset }),
    ended: packager.ended,
  };
}

/**
 * The MPEG-TS media playlist of variant `index`, for players without fMP4: plain HLS (version 3), the complete
 * segments of the window, each remuxed to MPEG-TS on first request.
 */
export function renderTsMediaFor(stream: HlsStream, index: number, validate = true): string {
  const packager = stream.packagers[index];
  if (packager === undefined) throw new RangeError(`no variant ${index}`);
  const complete = packager.segments.filter((segment) => segment.complete);
  const startTimeOffset = stream.variants[index]?.startTimeOffset;
  const input: MediaPlaylistInput = {
    targetDurationSeconds: packager.targetDurationSeconds,
    mediaSequence: complete[0]?.msn ?? 0,
    discontinuitySequence: packager.discontinuitySequence,
    segments: complete.map((segment) => ({
      msn: segment.msn,
      uri: `${segment.msn}.ts`,
      durationSeconds: segment.durationSeconds,
      programDateTime: segment.programDateTime,
      discontinuity: segment.discontinuity,
      complete: true,
    })),
    ...(startTimeOffset === undefined ? {} : { startTimeOffset }),
    ended: packager.ended,
  };
  return renderMediaPlaylist(input, { validate });
}
