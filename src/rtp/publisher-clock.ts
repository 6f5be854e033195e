/**
 * Puts one publisher's audio and video on the channel clock, in sync (RFC 3550 §6.4.1).
 *
 * Each track has a source time for every RTP timestamp: before its first Sender Report, the RTP time itself
 * (arrival-anchored, so only roughly in sync with the other track); after it, the sender's NTP wallclock, which
 * audio and video share. A lower-envelope filter of (arrival − source time) estimates the offset to the local
 * clock, following drift between sender and server; the offset actually applied moves towards that estimate at a
 * bounded slew, so output times never jump. Both tracks on the NTP timeline use the same applied offset, so their
 * relative timing is exactly what the Sender Reports say.
 *
 * Audio is the master: when the mapping must change (a first Sender Report, a Sender Report that jumps), the
 * offset is re-based so that audio continues seamlessly, and video moves to follow it — a gap in audio is worse
 * than a video frame shown a little early or late. A video report that only disagrees a little is steered towards
 * (`srSlewMsPerSecond`) rather than taken at once. Output times are monotonic per track. Pure: the caller gives
 * arrival times from its monotonic clock.
 *
 * A pause is not a jump: when a track's frames stop for a while (the publisher's network, or its track replaced
 * by nothing) and its RTP clock did not run meanwhile (Chromium's audio does this), the silence was real time. The
 * track's source times are moved forward by the difference, so it resumes at the present instead of where it
 * stopped; its next Sender Report then agrees. A gap while the receiver itself was held up (`stalledMs`: a loaded
 * machine reads the packets that waited in its socket all at once) is not the sender's and does not count.
 *
 * A Sender Report whose NTP timestamp has a fraction under 2.5 ms is not used (counted as `srIgnored`). werift
 * (0.25) writes the decimal digits of the seconds as the fraction (1.854521 s → fraction 854521, 0.2 ms), so its
 * reports are whole seconds: up to a second off their RTP timestamps, which moved video by up to a second against
 * sound and put frames before their own arrival. Its tracks stay on arrival timing, which holds them within tens
 * of milliseconds. A real clock's fraction falls under 2.5 ms once in 400 reports: that one is skipped.
 */
import { MinDelayFilter } from './min-delay-filter.ts';
import type { SenderReport } from './rtcp.ts';
import { tsDiff32 } from './seq.ts';

export type ClockTrackKind = 'audio' | 'video';

export interface PublisherClockOptions {
  /** The channel clock's origin on the local monotonic clock (ms). */
  epochMs: number;
  /** Added to every output time, so frames are due after they arrive (buffering for jitter). */
  playoutDelayMs: number;
  /** The most the applied offset moves per second of elapsed time, in ms (5 = 0.5 %). */
  slewMsPerSecond: number;
  /** Width of the minimum-delay window, seconds. */
  windowSeconds: number;
  /** A Sender Report further than this from what the previous one predicts is a jump of the sender's clock. */
  srJumpSeconds: number;
  /**
   * How long video's jumped Sender Reports are held back waiting for audio's to jump too (one sender clock
   * jumps for both); past this the new relation is taken as real and video moves.
   */
  srJumpHoldSeconds: number;
  /** Frames of a track this far apart (arrival) are a pause; see the class comment. */
  pauseSeconds: number;
  /**
   * The most a video Sender Report that agrees with the one before (no jump) moves video per second of arrivals,
   * in ms; see the class comment.
   */
  srSlewMsPerSecond: number;
  /** How much of [fromMs, toMs] (arrival clock) the receiver was held up and read no packets; none if absent. */
  stalledMs?: (fromMs: number, toMs: number) => number;
}

export const defaultPublisherClockOptions: Omit<PublisherClockOptions, 'epochMs'> = {
  playoutDelayMs: 200,
  slewMsPerSecond: 5,
  windowSeconds: 10,
  srJumpSeconds: 0.2,
  srJumpHoldSeconds: 3,
  pauseSeconds: 1,
  srSlewMsPerSecond: 20,
};

interface Timeline {
  filter: MinDelayFilter;
  /** local seconds − source seconds, as applied now. */
  applied: number | undefined;
  lastSlewSeconds: number;
}

interface TrackState {
  clockRate: number;
  firstRtpTime: number | undefined;
  lastRtpTime: number | undefined;
  sr: { ntpSeconds: number; rtpTime: number } | undefined;
  /** A jumped report of a non-master track, not yet applied. */
  heldSr: { ntpSeconds: number; rtpTime: number; sinceMs: number } | undefined;
  /** The latest agreeing report of a non-master track, which `sr` is steered towards; and since when. */
  srTarget: { ntpSeconds: number; rtpTime: number } | undefined;
  srSlewSeconds: number | undefined;
  pendingSr: { report: SenderReport; arrivalMs: number } | undefined;
  arrival: Timeline;
  lastOutMs: number | undefined;
  senderReports: number;
  srJumps: number;
  /** Reports not used: their NTP fraction says the sender's clock is whole seconds (see the class comment). */
  srIgnored: number;
  /** Arrival and source time (of the timeline in use) of the latest frame: a pause shows as a gap in one only. */
  lastArrivalSeconds: number | undefined;
  lastSourceSeconds: number | undefined;
  /** Added to arrival-mode source times: the pauses so far. */
  arrivalShiftSeconds: number;
  pauses: number;
}

export interface TrackClockStats {
  mode: 'arrival' | 'sender-report';
  senderReports: number;
  srJumps: number;
  srIgnored: number;
  /** Pauses whose silence the sender's RTP clock did not count. */
  pauses: number;
}

const twoTo32 = 2 ** 32;
/** NTP fractions below this (2.5 ms) mark a report of a sender whose NTP clock is whole seconds. */
const wholeSecondsFractionBelow = Math.round(0.0025 * twoTo32);

function newTimeline(windowSeconds: number): Timeline {
  return {
    filter: new MinDelayFilter(1, Math.max(1, Math.round(windowSeconds))),
    applied: undefined,
    lastSlewSeconds: 0,
  };
}

export class PublisherClock {
  readonly #options: PublisherClockOptions;
  readonly #tracks = new Map<ClockTrackKind, TrackState>();
  readonly #ntp: Timeline;
  /** The track whose arrivals drive the shared NTP timeline: audio once it has a Sender Report. */
  #master: ClockTrackKind | undefined;

  constructor(options: PublisherClockOptions) {
    this.#options = options;
    this.#ntp = newTimeline(options.windowSeconds);
  }

  addTrack(kind: ClockTrackKind, clockRate: number): void {
    this.#tracks.set(kind, {
      clockRate,
      firstRtpTime: undefined,
      lastRtpTime: undefined,
      sr: undefined,
      heldSr: undefined,
      srTarget: undefined,
      srSlewSeconds: undefined,
      pendingSr: undefined,
      arrival: newTimeline(this.#options.windowSeconds),
      lastOutMs: undefined,
      senderReports: 0,
      srJumps: 0,
      srIgnored: 0,
      lastArrivalSeconds: undefined,
      lastSourceSeconds: undefined,
      arrivalShiftSeconds: 0,
      pauses: 0,
    });
  }

  senderReport(kind: ClockTrackKind, report: SenderReport, arrivalMs: number): void {
    const track = this.#tracks.get(kind);
    if (track === undefined) return;
    if (report.ntpFraction < wholeSecondsFractionBelow) {
      track.srIgnored += 1;
      return;
    }
    if (track.lastRtpTime === undefined) {
      track.pendingSr = { report, arrivalMs };
      return;
    }
    this.#applySenderReport(kind, track, report, arrivalMs);
  }

  /** Channel time (ms) of a frame with this unwrapped RTP time that completed at `arrivalMs`. */
  map(kind: ClockTrackKind, rtpTime: number, arrivalMs: number): number {
    const track = this.#tracks.get(kind);
    if (track === undefined) throw new Error(`no ${kind} track`);
    track.firstRtpTime ??= rtpTime;
    if (track.lastRtpTime === undefined || rtpTime > track.lastRtpTime) track.lastRtpTime = rtpTime;
    if (track.pendingSr !== undefined) {
      const { report, arrivalMs: at } = track.pendingSr;
      track.pendingSr = undefined;
      this.#applySenderReport(kind, track, report, at);
    }
    const arrivalSeconds = arrivalMs / 1000;
    let localSeconds: number;
    if (track.sr === undefined) {
      let source = (rtpTime - track.firstRtpTime) / track.clockRate + track.arrivalShiftSeconds;
      const shift = this.#pauseShift(track, source, arrivalSeconds);
      track.arrivalShiftSeconds += shift;
      source += shift;
      track.lastSourceSeconds = source;
      track.arrival.filter.add(arrivalSeconds - source, arrivalSeconds);
      localSeconds = source + this.#advance(track.arrival, arrivalSeconds);
    } else {
      this.#steerTowardsReport(track, arrivalSeconds);
      let source = track.sr.ntpSeconds + (rtpTime - track.sr.rtpTime) / track.clockRate;
      const shift = this.#pauseShift(track, source, arrivalSeconds);
      track.sr.ntpSeconds += shift;
      source += shift;
      if (shift !== 0) {
        // A report from before the pause would steer the track back to where it stopped.
        track.srTarget = undefined;
        track.srSlewSeconds = undefined;
      }
      track.lastSourceSeconds = source;
      if (kind === this.#master) this.#ntp.filter.add(arrivalSeconds - source, arrivalSeconds);
      localSeconds = source + this.#advance(this.#ntp, arrivalSeconds);
    }
    track.lastArrivalSeconds = arrivalSeconds;
    let out = localSeconds * 1000 + this.#options.playoutDelayMs - this.#options.epochMs;
    // Never backwards, and at least 1 ms apart: containers downstream count in milliseconds.
    if (track.lastOutMs !== undefined && out < track.lastOutMs + 1) out = track.lastOutMs + 1;
    track.lastOutMs = out;
    return out;
  }

  stats(): Partial<Record<ClockTrackKind, TrackClockStats>> {
    const out: Partial<Record<ClockTrackKind, TrackClockStats>> = {};
    for (const [kind, track] of this.#tracks) {
      out[kind] = {
        mode: track.sr === undefined ? 'arrival' : 'sender-report',
        senderReports: track.senderReports,
        srJumps: track.srJumps,
        srIgnored: track.srIgnored,
        pauses: track.pauses,
      };
    }
    return out;
  }

  /**
   * Moves a non-master track's relation towards its latest agreeing report by at most the slew allowed since last
   * time (`srSlewMsPerSecond`).
   */
  #steerTowardsReport(track: TrackState, nowSeconds: number): void {
    const { sr, srTarget } = track;
    if (sr === undefined || srTarget === undefined) return;
    const wanted = srTarget.ntpSeconds + (sr.rtpTime - srTarget.rtpTime) / track.clockRate - sr.ntpSeconds;
    const elapsed = Math.max(0, nowSeconds - (track.srSlewSeconds ?? nowSeconds));
    const step = (this.#options.srSlewMsPerSecond / 1000) * elapsed;
    sr.ntpSeconds += Math.max(-step, Math.min(step, wanted));
    track.srSlewSeconds = nowSeconds;
    if (Math.abs(wanted) <= step) {
      track.srTarget = undefined;
      track.srSlewSeconds = undefined;
    }
  }

  /** Moves the applied offset towards the filter's estimate by at most the slew allowed since last time. */
  #advance(timeline: Timeline, nowSeconds: number): number {
    const target = timeline.filter.estimate();
    if (timeline.applied === undefined) {
      timeline.applied = target ?? 0;
    } else if (target !== undefined) {
      const elapsed = Math.max(0, nowSeconds - timeline.lastSlewSeconds);
      const step = (this.#options.slewMsPerSecond / 1000) * elapsed;
      timeline.applied += Math.max(-step, Math.min(step, target - timeline.applied));
    }
    timeline.lastSlewSeconds = nowSeconds;
    return timeline.applied;
  }

  /**
   * After a pause (frames `pauseSeconds` apart or more), how much further the source time must move to have run
   * with real time: the arrival gap less the source gap, when that is more than a jump; else 0.
   */
  #pauseShift(track: TrackState, source: number, arrivalSeconds: number): number {
    if (track.lastArrivalSeconds === undefined || track.lastSourceSeconds === undefined) return 0;
    let arrivalGap = arrivalSeconds - track.lastArrivalSeconds;
    if (arrivalGap < this.#options.pauseSeconds) return 0;
    arrivalGap -=
      (this.#options.stalledMs?.(track.lastArrivalSeconds * 1000, arrivalSeconds * 1000) ?? 0) / 1000;
    if (arrivalGap < this.#options.pauseSeconds) return 0;
    const missing = arrivalGap - (source - track.lastSourceSeconds);
    if (missing <= this.#options.srJumpSeconds) return 0;
    track.pauses += 1;
    return missing;
  }

  /** Local seconds the track's latest frame maps to now, or undefined if it has none yet. */
  #currentLocal(track: TrackState): number | undefined {
    const rtpTime = track.lastRtpTime;
    if (rtpTime === undefined || track.firstRtpTime === undefined) return undefined;
    if (track.sr === undefined) {
      const applied = track.arrival.applied;
      return applied === undefined
        ? undefined
        : (rtpTime - track.firstRtpTime) / track.clockRate + track.arrivalShiftSeconds + applied;
    }
    const applied = this.#ntp.applied;
    return applied === undefined
      ? undefined
      : track.sr.ntpSeconds + (rtpTime - track.sr.rtpTime) / track.clockRate + applied;
  }

  #applySenderReport(kind: ClockTrackKind, track: TrackState, report: SenderReport, arrivalMs: number): void {
    const lastRtp = track.lastRtpTime ?? 0;
    const rtpTime = lastRtp + tsDiff32(report.rtpTimestamp, lastRtp % twoTo32);
    let ntpSeconds = report.ntpSeconds + report.ntpFraction / twoTo32;
    const previous = track.sr;
    if (previous !== undefined) {
      // NTP seconds wrap in 2036 (RFC 5905 era 1): keep them next to the previous report's.
      ntpSeconds += Math.round((previous.ntpSeconds - ntpSeconds) / twoTo32) * twoTo32;
    }
    track.senderReports += 1;
    const predicted =
      previous === undefined
        ? undefined
        : previous.ntpSeconds + (rtpTime - previous.rtpTime) / track.clockRate;
    const jumped = predicted !== undefined && Math.abs(predicted - ntpSeconds) > this.#options.srJumpSeconds;
    const isMaster = kind === 'audio' || this.#master === undefined || this.#master === 'video';

    if (jumped && !isMaster) {
      // Hold it: the master's reports come from the same clock and will most likely jump too, and mixing a
      // report from after the jump with one from before would misplace video by the jump.
      if (track.heldSr === undefined) track.srJumps += 1;
      track.heldSr = { ntpSeconds, rtpTime, sinceMs: track.heldSr?.sinceMs ?? arrivalMs };
      if (arrivalMs - track.heldSr.sinceMs < this.#options.srJumpHoldSeconds * 1000) return;
      track.heldSr = undefined;
      track.sr = { ntpSeconds, rtpTime };
      track.srTarget = undefined;
      track.srSlewSeconds = undefined;
      track.lastSourceSeconds = undefined;
      return;
    }
    if (!jumped) track.heldSr = undefined;
    const silentSeconds =
      track.lastArrivalSeconds === undefined ? 0 : arrivalMs / 1000 - track.lastArrivalSeconds;
    if (jumped && silentSeconds >= this.#options.pauseSeconds) {
      // Reported after a pause whose silence the RTP clock did not count: the new relation is the present, so
      // the track resumes now rather than where it stopped (no re-base).
      track.pauses += 1;
      track.sr = { ntpSeconds, rtpTime };
      track.srTarget = undefined;
      track.srSlewSeconds = undefined;
      track.lastSourceSeconds = undefined;
      return;
    }
    if (jumped) track.srJumps += 1;
    if (previous !== undefined && !jumped && !isMaster) {
      // Agreeing with the one before, but not exactly: a sender that pairs its last packet's RTP time with the
      // present (werift does) disagrees by up to a frame interval and its pacing, 250 ms seen. Taken at once, each
      // such report moved video back and forth; pictures moved back were squeezed 1 ms apart until they caught up.
      // Steered towards instead, at most `srSlewMsPerSecond`; a browser's reports agree to the millisecond.
      track.srTarget = { ntpSeconds, rtpTime };
      track.srSlewSeconds ??= arrivalMs / 1000;
      return;
    }
    const before = this.#currentLocal(track);
    track.sr = { ntpSeconds, rtpTime };
    track.srTarget = undefined;
    track.srSlewSeconds = undefined;
    // The first report or a jump starts a new timeline: the next frame's source time is not comparable with the
    // last one's. A report that agrees with the previous one continues the same timeline.
    if (previous === undefined || jumped) track.lastSourceSeconds = undefined;
    if ((previous !== undefined && !jumped) || !isMaster) return;

    this.#master = kind;
    this.#ntp.filter.reset();
    if (before !== undefined) {
      // Re-base so this (master) track continues exactly where it was; the filter then steers it.
      const source = ntpSeconds + (lastRtp - rtpTime) / track.clockRate;
      this.#ntp.applied = before - source;
      this.#ntp.lastSlewSeconds = arrivalMs / 1000;
    } else {
      this.#ntp.applied = undefined;
    }
    // The other track's held report belongs to the same jump: it applies now.
    for (const other of this.#tracks.values()) {
      if (other === track || other.heldSr === undefined) continue;
      other.sr = { ntpSeconds: other.heldSr.ntpSeconds, rtpTime: other.heldSr.rtpTime };
      other.srTarget = undefined;
      other.srSlewSeconds = undefined;
      other.heldSr = undefined;
      other.lastSourceSeconds = undefined;
    }
  }
}
