/**
 * Lip sync and clock drift: a simulated sender (its own wallclock and RTP clocks, Sender Reports, a network with
 * delay and jitter) through PublisherClock, checked against what the Sender Reports say.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultPublisherClockOptions, PublisherClock } from '../../src/rtp/publisher-clock.ts';

interface Scenario {
  durationSeconds: number;
  /** Sender clock rate error, parts per million (positive: the sender's clock runs fast). */
  driftPpm: number;
  audioStartSeconds: number;
  videoStartSeconds: number;
  /** First Sender Report of each track, seconds after its start; undefined: the track never sends one. */
  audioFirstSrSeconds: number | undefined;
  videoFirstSrSeconds: number | undefined;
  srIntervalSeconds: number;
  ntpBaseSeconds: number;
  audioRtpBase: number;
  videoRtpBase: number;
  baseDelayMs: number;
  /** Video's extra delay from capture to arrival (encoding, pacing): what arrival-based sync gets wrong. */
  videoExtraDelayMs: number;
  jitterMs: number;
  /** At this time the sender's wallclock (hence its Sender Reports) jumps by `ntpJumpSeconds`. */
  ntpJumpAtSeconds?: number;
  ntpJumpSeconds?: number;
  /**
   * Video's Sender Reports pair the present with the RTP time of a frame up to this much older (a sender that
   * reports its last packet's RTP time, as werift does), at random.
   */
  videoSrErrorMs?: number;
  /**
   * The NTP fraction as werift writes it: the decimal digits of the seconds read as an integer (1.854521 s →
   * 854521, 0.2 ms), so its reports say whole seconds.
   */
  ntpDigitsFraction?: boolean;
  seed: number;
}

const base: Scenario = {
  durationSeconds: 30,
  driftPpm: 0,
  audioStartSeconds: 0,
  videoStartSeconds: 0.7,
  audioFirstSrSeconds: 1.3,
  videoFirstSrSeconds: 0.4,
  srIntervalSeconds: 1,
  ntpBaseSeconds: 3_900_000_000,
  audioRtpBase: 123_456,
  videoRtpBase: 987_654_321,
  baseDelayMs: 30,
  videoExtraDelayMs: 80,
  jitterMs: 15,
  seed: 1,
};

interface Output {
  captureSeconds: number;
  arrivalMs: number;
  outMs: number;
}

function run(s: Scenario): { audio: Output[]; video: Output[]; clock: PublisherClock } {
  let state = s.seed >>> 0 || 1;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const clock = new PublisherClock({ ...defaultPublisherClockOptions, epochMs: 0 });
  clock.addTrack('audio', 48_000);
  clock.addTrack('video', 90_000);
  const rate = 1 + s.driftPpm / 1e6;
  /** The sender's wallclock at true time t (seconds), as its Sender Reports state it. */
  const senderWallclock = (t: number): number =>
    s.ntpBaseSeconds +
    t * rate +
    (s.ntpJumpAtSeconds !== undefined && t >= s.ntpJumpAtSeconds ? (s.ntpJumpSeconds ?? 0) : 0);
  /** RTP clocks run on the sender's oscillator and never jump. */
  const rtpAt = (kind: 'audio' | 'video', t: number): number =>
    kind === 'audio'
      ? s.audioRtpBase + Math.round(t * rate * 48_000)
      : s.videoRtpBase + Math.round(t * rate * 90_000);

  type Event = { at: number; run: () => void };
  const events: Event[] = [];
  const audio: Output[] = [];
  const video: Output[] = [];
  const frames = (kind: 'audio' | 'video', start: number, interval: number, sink: Output[]): void => {
    const extra = kind === 'video' ? s.videoExtraDelayMs : 0;
    for (let t = start; t < s.durationSeconds; t += interval) {
      const arrivalMs = t * 1000 + s.baseDelayMs + extra + random() * s.jitterMs;
      events.push({
        at: arrivalMs,
        run: () => {
          sink.push({ captureSeconds: t, arrivalMs, outMs: clock.map(kind, rtpAt(kind, t), arrivalMs) });
        },
      });
    }
  };
  const reports = (kind: 'audio' | 'video', start: number, first: number | undefined): void => {
    if (first === undefined) return;
    for (let t = start + first; t < s.durationSeconds; t += s.srIntervalSeconds) {
      const wallclock = senderWallclock(t);
      const ntpSeconds = Math.floor(wallclock);
      const report = {
        ssrc: kind === 'audio' ? 1 : 2,
        ntpSeconds: ntpSeconds % 2 ** 32,
        ntpFraction: s.ntpDigitsFraction
          ? Number(String(wallclock).split('.')[1] ?? '0')
          : Math.floor((wallclock - ntpSeconds) * 2 ** 32),
        rtpTimestamp:
          rtpAt(kind, kind === 'video' ? t - (random() * (s.videoSrErrorMs ?? 0)) / 1000 : t) % 2 ** 32,
        packetCount: 0,
        octetCount: 0,
      };
      const arrivalMs = t * 1000 + s.baseDelayMs + random() * s.jitterMs;
      events.push({
        at: arrivalMs,
        run: () => {
          clock.senderReport(kind, report, arrivalMs);
        },
      });
    }
  };
  frames('audio', s.audioStartSeconds, 0.02, audio);
  frames('video', s.videoStartSeconds, 1 / 30, video);
  reports('audio', s.audioStartSeconds, s.audioFirstSrSeconds);
  reports('video', s.videoStartSeconds, s.videoFirstSrSeconds);
  events.sort((a, b) => a.at - b.at);
  for (const event of events) event.run();
  return { audio, video, clock };
}

/** Video output minus the audio output at the same capture instant (interpolated), per video frame after `from`. */
function avOffsetsMs(audio: Output[], video: Output[], fromSeconds: number): number[] {
  const offsets: number[] = [];
  let i = 0;
  for (const frame of video) {
    if (frame.captureSeconds < fromSeconds) continue;
    while (i + 1 < audio.length && audio[i + 1]!.captureSeconds <= frame.captureSeconds) i++;
    const a = audio[i];
    const b = audio[i + 1];
    if (a === undefined || b === undefined || a.captureSeconds > frame.captureSeconds) continue;
    const f = (frame.captureSeconds - a.captureSeconds) / (b.captureSeconds - a.captureSeconds);
    offsets.push(frame.outMs - (a.outMs + f * (b.outMs - a.outMs)));
  }
  return offsets;
}

const maxAbs = (values: number[]): number => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function assertMonotonic(outputs: Output[], what: string): void {
  for (let i = 1; i < outputs.length; i++) {
    assert.ok(outputs[i]!.outMs > outputs[i - 1]!.outMs, `${what} output went backwards at frame ${i}`);
  }
}

describe('PublisherClock', () => {
  test('audio and video starting at different times, with Sender Reports at different times, line up within 20 ms', () => {
    const { audio, video, clock } = run(base);
    const offsets = avOffsetsMs(audio, video, 3);
    assert.ok(offsets.length > 500);
    assert.ok(maxAbs(offsets) <= 20, `A/V offset up to ${maxAbs(offsets).toFixed(1)} ms`);
    assertMonotonic(audio, 'audio');
    assertMonotonic(video, 'video');
    assert.equal(clock.stats().audio?.mode, 'sender-report');
    assert.equal(clock.stats().video?.mode, 'sender-report');
  });

  test('audio never jumps when its first Sender Report arrives: every step stays one frame (20 ms) within 1 ms', () => {
    const { audio } = run({ ...base, jitterMs: 0 });
    for (let i = 1; i < audio.length; i++) {
      const step = audio[i]!.outMs - audio[i - 1]!.outMs;
      assert.ok(Math.abs(step - 20) < 1, `audio step ${step.toFixed(3)} ms at frame ${i}`);
    }
  });

  test('RTP timestamps and NTP seconds that wrap during the session change nothing', () => {
    const { audio, video } = run({
      ...base,
      ntpBaseSeconds: 2 ** 32 - 10,
      audioRtpBase: 2 ** 32 - 48_000 * 5,
      videoRtpBase: 2 ** 32 - 90_000 * 7,
    });
    assert.ok(maxAbs(avOffsetsMs(audio, video, 3)) <= 20);
    assertMonotonic(audio, 'audio');
    assertMonotonic(video, 'video');
  });

  test('a track that never sends a Sender Report is placed by its arrivals and stays monotonic', () => {
    const { audio, video, clock } = run({ ...base, videoFirstSrSeconds: undefined });
    assert.equal(clock.stats().video?.mode, 'arrival');
    assertMonotonic(video, 'video');
    // Without a report there is nothing to sync on but arrival: video is as late as its extra delay, give or
    // take the jitter — which is exactly what the reports correct when they come.
    for (const offset of avOffsetsMs(audio, video, 5)) {
      assert.ok(
        Math.abs(offset - base.videoExtraDelayMs) <= base.jitterMs + 5,
        `offset ${offset.toFixed(1)} ms`,
      );
    }
  });

  test('a Sender Report that jumps moves video to follow; audio continues without a gap', () => {
    const { audio, video, clock } = run({ ...base, jitterMs: 0, ntpJumpAtSeconds: 10, ntpJumpSeconds: 5 });
    assert.ok((clock.stats().audio?.srJumps ?? 0) >= 1);
    for (let i = 1; i < audio.length; i++) {
      const step = audio[i]!.outMs - audio[i - 1]!.outMs;
      assert.ok(
        Math.abs(step - 20) < 1,
        `audio step ${step.toFixed(3)} ms at ${audio[i]!.captureSeconds.toFixed(2)} s`,
      );
    }
    assert.ok(
      maxAbs(avOffsetsMs(audio, video, 12)) <= 20,
      `after the jump: ${maxAbs(avOffsetsMs(audio, video, 12))}`,
    );
    assertMonotonic(video, 'video');
  });

  test('reports of whole NTP seconds (werift: the decimal digits as the fraction) are not used: arrival timing', () => {
    const werift = { ...base, durationSeconds: 60, ntpDigitsFraction: true, videoExtraDelayMs: 0 };
    const { audio, video, clock } = run(werift);
    assert.equal(clock.stats().audio?.mode, 'arrival');
    assert.equal(clock.stats().video?.mode, 'arrival');
    assert.ok((clock.stats().audio?.srIgnored ?? 0) >= 55 && (clock.stats().video?.srIgnored ?? 0) >= 55);
    // Placed by their arrivals: in sync within the network's jitter, and due the playout delay after they came.
    assert.ok(maxAbs(avOffsetsMs(audio, video, 5)) <= werift.jitterMs + 5);
    for (const frame of [...audio, ...video]) {
      const dueAfterMs = frame.outMs - frame.arrivalMs;
      assert.ok(
        dueAfterMs >= defaultPublisherClockOptions.playoutDelayMs - werift.jitterMs - 1,
        `a frame captured at ${frame.captureSeconds.toFixed(2)} s due ${dueAfterMs.toFixed(0)} ms after it came`,
      );
    }
    // A sender with a real clock loses at most the rare report whose fraction happens to be that small.
    const { audio: realAudio, video: realVideo } = run({ ...werift, ntpDigitsFraction: false }).clock.stats();
    assert.ok(realAudio !== undefined && realVideo !== undefined);
    assert.equal(realVideo.mode, 'sender-report');
    assert.ok(realAudio.srIgnored + realVideo.srIgnored <= 2);
  });

  test("video Sender Reports off by up to 150 ms (last packet's RTP time): video steered, never squeezed", () => {
    const { audio, video } = run({ ...base, durationSeconds: 60, videoSrErrorMs: 150 });
    assertMonotonic(video, 'video');
    // Taken at once, a report up to 150 ms off moved video back by that much, and the frames after it were
    // squeezed 1 ms apart. Steered at 20 ms a second, a frame's step stays within a millisecond of 33 ms.
    const steps = video.slice(60).map((frame, index) => frame.outMs - video[59 + index]!.outMs);
    const small = steps.flatMap((step, index) =>
      step <= 30 ? [`${video[60 + index]!.captureSeconds.toFixed(2)}:${step.toFixed(1)}`] : [],
    );
    assert.ok(
      Math.min(...steps) > 30,
      `smallest video step ${Math.min(...steps).toFixed(1)} ms at ${small.join(' ')}`,
    );
    // The reports place video 75 ms late on average (half the error); steered, it stays near that.
    const offsets = avOffsetsMs(audio, video, 10).sort((a, b) => a - b);
    const median = offsets[Math.floor(offsets.length / 2)] ?? Number.NaN;
    assert.ok(Math.abs(median - 75) < 40, `median A/V ${median.toFixed(1)} ms`);
    assert.ok(maxAbs(offsets.map((o) => o - median)) < 60, `A/V from ${offsets[0]} to ${offsets.at(-1)} ms`);
  });

  test('a sender clock 100 ppm fast over 2 hours: latency stays within 40 ms and A/V within 20 ms', () => {
    const { audio, video } = run({ ...base, durationSeconds: 7200, driftPpm: 100, jitterMs: 20 });
    const latency = (o: Output): number => o.outMs - o.captureSeconds * 1000;
    const settled = audio.filter((o) => o.captureSeconds >= 20);
    const reference = latency(settled[0]!);
    const skew = maxAbs(settled.map((o) => latency(o) - reference));
    assert.ok(skew <= 40, `latency moved by up to ${skew.toFixed(1)} ms over 2 h (0.72 s of drift)`);
    assert.ok(maxAbs(avOffsetsMs(audio, video, 20)) <= 20);
  });

  test('a sender clock 100 ppm slow over 2 hours: likewise', () => {
    const { audio, video } = run({ ...base, durationSeconds: 7200, driftPpm: -100, jitterMs: 20, seed: 3 });
    const latency = (o: Output): number => o.outMs - o.captureSeconds * 1000;
    const settled = audio.filter((o) => o.captureSeconds >= 20);
    const reference = latency(settled[0]!);
    assert.ok(maxAbs(settled.map((o) => latency(o) - reference)) <= 40);
    assert.ok(maxAbs(avOffsetsMs(audio, video, 20)) <= 20);
  });
});

describe('PublisherClock after a pause', () => {
  /**
   * 40 s of audio (48 kHz) and video (90 kHz) frames every 20 ms arriving 30 ms after capture, with a 10 s pause at
   * 10 s; audio's RTP clock either runs through the pause (as the wallclock) or stands still (Chromium's audio
   * when its track is replaced by nothing). Sender Reports every second, or none.
   */
  function run(audioRtpStandsStill: boolean, senderReports: boolean) {
    const clock = new PublisherClock({ ...defaultPublisherClockOptions, epochMs: 0 });
    clock.addTrack('audio', 48_000);
    clock.addTrack('video', 90_000);
    const ntpBase = 3_900_000_000;
    const latencies: { t: number; audio: number; video: number }[] = [];
    for (let step = 0; step < 2000; step++) {
      const t = step * 0.02;
      if (t >= 10 && t < 20) continue;
      const arrivalMs = t * 1000 + 30;
      const audioRtp = Math.round(t * 48_000) - (audioRtpStandsStill && t >= 20 ? 480_000 : 0);
      const videoRtp = Math.round(t * 90_000);
      if (senderReports && step % 50 === 0) {
        const ntp = ntpBase + t;
        for (const [kind, rtp] of [
          ['audio', audioRtp],
          ['video', videoRtp],
        ] as const) {
          clock.senderReport(
            kind,
            {
              ssrc: 1,
              ntpSeconds: Math.floor(ntp),
              ntpFraction: Math.floor((ntp % 1) * 2 ** 32),
              rtpTimestamp: rtp >>> 0,
              packetCount: 0,
              octetCount: 0,
            },
            arrivalMs,
          );
        }
      }
      latencies.push({
        t,
        audio: clock.map('audio', audioRtp, arrivalMs) - t * 1000,
        video: clock.map('video', videoRtp, arrivalMs) - t * 1000,
      });
    }
    return { latencies, stats: clock.stats() };
  }

  for (const senderReports of [true, false]) {
    test(`audio whose RTP clock stood still resumes at the present, video with it (${senderReports ? 'with' : 'without'} Sender Reports)`, () => {
      const { latencies, stats } = run(true, senderReports);
      const before = latencies.find((l) => l.t >= 9)!;
      for (const after of latencies.filter((l) => l.t >= 20)) {
        assert.ok(
          Math.abs(after.audio - before.audio) <= 5,
          `audio at ${after.t} s: ${after.audio} ms, was ${before.audio}`,
        );
        assert.ok(
          Math.abs(after.video - before.video) <= 5,
          `video at ${after.t} s: ${after.video} ms, was ${before.video}`,
        );
      }
      assert.equal(stats.audio?.pauses, 1);
      assert.equal(stats.video?.pauses, 0, 'video RTP ran with the wallclock: nothing to move');
    });
  }

  test('tracks whose RTP clocks ran through the pause are not moved', () => {
    const { latencies, stats } = run(false, true);
    const before = latencies.find((l) => l.t >= 9)!;
    for (const after of latencies.filter((l) => l.t >= 20)) {
      assert.ok(Math.abs(after.audio - before.audio) <= 5 && Math.abs(after.video - before.video) <= 5);
    }
    assert.equal(stats.audio?.pauses, 0);
    assert.equal(stats.video?.pauses, 0);
  });
});

describe('PublisherClock when the receiver itself was held up', () => {
  /**
   * Audio and video frames every 20 ms arriving 30 ms after capture; from 10 s to 11.2 s the receiver's loop is
   * held up, and the frames sent meanwhile are all read at once when it runs again. RTP clocks run throughout.
   */
  function run(stalledMs: ((fromMs: number, toMs: number) => number) | undefined) {
    const clock = new PublisherClock({
      ...defaultPublisherClockOptions,
      epochMs: 0,
      ...(stalledMs === undefined ? {} : { stalledMs }),
    });
    clock.addTrack('audio', 48_000);
    clock.addTrack('video', 90_000);
    const latencies: { t: number; audio: number; video: number }[] = [];
    for (let step = 0; step < 1000; step++) {
      const t = step * 0.02;
      const sentArrivalMs = t * 1000 + 30;
      const arrivalMs = sentArrivalMs > 10_000 && sentArrivalMs < 11_200 ? 11_200 : sentArrivalMs;
      latencies.push({
        t,
        audio: clock.map('audio', Math.round(t * 48_000), arrivalMs) - t * 1000,
        video: clock.map('video', Math.round(t * 90_000), arrivalMs) - t * 1000,
      });
    }
    return { latencies, stats: clock.stats() };
  }
  const heldUp = (fromMs: number, toMs: number): number =>
    Math.max(0, Math.min(toMs, 11_200) - Math.max(fromMs, 10_000));

  test('the gap is not taken for a pause: frames after it keep their place on the channel clock', () => {
    const { latencies, stats } = run(heldUp);
    assert.equal(stats.audio?.pauses, 0);
    assert.equal(stats.video?.pauses, 0);
    const before = latencies.find((l) => l.t >= 9)!;
    for (const after of latencies.filter((l) => l.t >= 12)) {
      assert.ok(Math.abs(after.audio - before.audio) <= 5, `audio at ${after.t} s: ${after.audio} ms`);
      assert.ok(Math.abs(after.video - before.video) <= 5, `video at ${after.t} s: ${after.video} ms`);
    }
  });

  test('without knowing of the stall, the same gap moves both tracks 1.2 s later (what the stall check prevents)', () => {
    const { latencies, stats } = run(undefined);
    assert.equal(stats.audio?.pauses, 1);
    const before = latencies.find((l) => l.t >= 9)!;
    const after = latencies.find((l) => l.t >= 12)!;
    assert.ok(after.audio - before.audio > 1000, `audio moved ${after.audio - before.audio} ms`);
  });
});
