/**
 * Random valid LL-HLS media playlist inputs for property tests: 1–12 segments of 1–8 parts, full parts except a
 * complete segment's last one, an optional open segment, delta updates as deep as the Skip Boundary allows.
 */
import fc from 'fast-check';
import { formatSeconds, type MediaPlaylistInput, type MediaSegment } from '../../src/hls/format/playlist.ts';

/** A random valid LL-HLS playlist, and which segments list their parts. */
export const arbitraryLivePlaylist = fc
  .record({
    partTarget: fc.constantFrom(0.2, 0.25, 1 / 3, 0.5, 1),
    partsPerSegment: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 12 }),
    lastPartShare: fc.double({ min: 0.1, max: 1, noNaN: true }),
    lastIncomplete: fc.boolean(),
    ended: fc.boolean(),
    mediaSequence: fc.nat({ max: 1_000_000 }),
    window: fc.integer({ min: 1, max: 3 }),
    skipWanted: fc.nat({ max: 12 }),
    startMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  })
  .map((r) => {
    const count = r.partsPerSegment.length;
    const open = r.lastIncomplete && !r.ended;
    let startMs = r.startMs;
    const segments = r.partsPerSegment.map((n, i): MediaSegment => {
      const isOpen = open && i === count - 1;
      // Non-final parts are full; a complete segment's final part may be short (§4.4.4.9 exempts it).
      const durations = Array.from({ length: n }, (_, j) =>
        j === n - 1 && !isOpen ? r.partTarget * r.lastPartShare : r.partTarget,
      );
      const durationSeconds = durations.reduce((a, b) => a + b, 0);
      const made = {
        msn: r.mediaSequence + i,
        uri: `s${i}.m4s`,
        durationSeconds,
        complete: !isOpen,
        programDateTime: new Date(startMs),
        parts: durations.map((d, j) => ({ uri: `s${i}.${j}.m4s`, durationSeconds: d, independent: j === 0 })),
      };
      startMs += Math.round(durationSeconds * 1000);
      return made;
    });
    const targetDurationSeconds = Math.max(
      1,
      ...segments.map((s) => Math.round(Number(formatSeconds(s.durationSeconds)))),
    );
    const canSkipUntilSeconds = 6 * targetDurationSeconds;
    let skipped = 0;
    const listedSeconds = (from: number) =>
      segments
        .slice(from)
        .reduce((sum, s) => sum + (s.complete ? s.durationSeconds : s.parts!.length * r.partTarget), 0);
    while (skipped < Math.min(r.skipWanted, count - 1) && listedSeconds(skipped + 1) >= canSkipUntilSeconds)
      skipped++;
    // hls-parser reads a hint after a complete segment as one more segment with parts: keep its count at three.
    const window = !r.ended && !open ? Math.min(r.window, 2) : r.window;
    const input: MediaPlaylistInput = {
      targetDurationSeconds,
      partTargetSeconds: r.partTarget,
      mediaSequence: r.mediaSequence,
      mapUri: 'init.mp4',
      segments,
      serverControl: { canBlockReload: true, partHoldBackSeconds: 3 * r.partTarget, canSkipUntilSeconds },
      partWindowSegments: window,
      renditionReports: [{ uri: 'other.m3u8', lastMsn: r.mediaSequence + count - 1, lastPart: 0 }],
      ...(skipped > 0 ? { skip: { skippedSegments: skipped } } : {}),
      ...(r.ended ? { ended: true } : { preloadHint: { uri: 'next.m4s' } }),
    };
    return { input, partsFrom: count - window };
  });
