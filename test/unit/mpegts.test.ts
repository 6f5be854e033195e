/**
 * CMAF → MPEG-TS remux: real ffmpeg CMAF output (the encoder's flags) split into init and 2 s segments, each
 * remuxed, then checked by ffprobe and ffmpeg (stream parameters, clean decode of each segment and of their
 * concatenation, frame counts, PTS continuity across segments, DTS ≤ PTS with B-frames) and by a small packet
 * walker for what ffprobe does not show (PAT/PMT first, continuity counters, PCR spacing, random access).
 * Fixtures: no B-frames, B-frames (negative composition offsets), audio only, and 5 fps video only (PCR-only
 * packets). readFragmentSamples' data-offset rules are checked on a hand-made moof, since ffmpeg only writes
 * default-base-is-moof. Malformed input: literal cases, then seeded byte mutations and random bytes that may
 * only throw ParseError.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { readFragmentSamples } from '../../src/hls/format/fmp4-fragment.ts';
import { parseFragment, parseInit } from '../../src/hls/format/fmp4-reader.ts';
import { childBoxes, listBoxes, type Box } from '../../src/hls/format/mp4-box.ts';
import { remuxSegmentToTs, tsConfigFromInit, type TsRemuxConfig } from '../../src/hls/format/mpegts.ts';
import { ParseError } from '../../src/rtp/parse-error.ts';
import { decodeErrors, run } from '../helpers/ffmpeg.ts';
import { box, concat, fullBox, u32, u64 } from '../helpers/fmp4-fixtures.ts';

const offsetSeconds = 10;
const aacFrameTicks = 1920; // 1024 samples at 48 kHz, at 90 kHz

/** A fixture: x264 settings when it has video (frames per second, B-frames), and whether it has AAC audio. */
interface StreamSpec {
  readonly name: string;
  readonly video?: { readonly fps: number; readonly bFrames: number };
  readonly audio: boolean;
}

const specs: readonly StreamSpec[] = [
  { name: 'no-b-frames', video: { fps: 30, bFrames: 0 }, audio: true },
  { name: 'b-frames', video: { fps: 30, bFrames: 2 }, audio: true },
  { name: 'audio-only', audio: true },
  // 200 ms between frames: the PCR needs PCR-only packets in between.
  { name: 'video-only-5fps', video: { fps: 5, bFrames: 0 }, audio: false },
];

const seconds = 6;

interface Stream {
  readonly spec: StreamSpec;
  readonly mp4Path: string;
  readonly init: Uint8Array;
  readonly segments: readonly Uint8Array[];
  readonly config: TsRemuxConfig;
  /** The remuxed segments, their files, and the file of their concatenation. */
  readonly ts: readonly Uint8Array[];
  readonly tsPaths: readonly string[];
  readonly allPath: string;
}

let dir = '';
const streams = new Map<string, Stream>();

/** The brief's encoder command (keyframe every 2 s), 6 s so that there are three segments (two boundaries). */
const encode = async (path: string, { video, audio }: StreamSpec): Promise<void> => {
  const inputs = [
    ...(video === undefined ? [] : ['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${video.fps}`]),
    ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
  ];
  const videoArgs =
    video === undefined
      ? []
      : [
          ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', String(video.bFrames)],
          ...['-g', String(2 * video.fps), '-profile:v', 'high', '-pix_fmt', 'yuv420p'],
        ];
  const audioArgs = audio ? ['-c:a', 'aac', '-b:a', '64k', '-ac', '2'] : [];
  await run('ffmpeg', [
    ...[
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      ...inputs,
      '-t',
      String(seconds),
      ...videoArgs,
      ...audioArgs,
    ],
    ...['-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf'],
    ...['-frag_duration', '500000', path],
  ]);
};

/** Init (everything before the first moof) and segments: fragments grouped from an independent one, ≥ 1.9 s apart. */
const split = (bytes: Uint8Array): { init: Uint8Array; segments: Uint8Array[] } => {
  const top = listBoxes(bytes, 0, bytes.length);
  const firstMoof = top.find((box) => box.type === 'moof');
  assert.ok(firstMoof !== undefined, 'the ffmpeg output has fragments');
  const init = bytes.slice(0, firstMoof.start);
  const info = parseInit(init);
  const groups: { startSeconds: number; fragments: Uint8Array[] }[] = [];
  top.forEach((moof, index) => {
    const mdat = top[index + 1];
    if (moof.type !== 'moof' || mdat?.type !== 'mdat') return;
    const fragment = bytes.slice(moof.start, mdat.end);
    const { independent, startSeconds } = parseFragment(fragment, info);
    const last = groups.at(-1);
    if (last === undefined || (independent && startSeconds - last.startSeconds >= 1.9)) {
      groups.push({ startSeconds, fragments: [fragment] });
    } else {
      last.fragments.push(fragment);
    }
  });
  // Plain Uint8Arrays, not Buffers: Buffer#slice is a view, and the tests copy with slice() before mutating.
  return { init, segments: groups.map((group) => new Uint8Array(Buffer.concat(group.fragments))) };
};

const makeStream = async (spec: StreamSpec): Promise<Stream> => {
  const mp4Path = join(dir, `${spec.name}.mp4`);
  await encode(mp4Path, spec);
  const { init, segments } = split(new Uint8Array(await readFile(mp4Path)));
  const config = tsConfigFromInit(init);
  const ts = segments.map((segment) => remuxSegmentToTs(config, segment, offsetSeconds));
  const tsPaths = ts.map((_, k) => join(dir, `${spec.name}-${k}.ts`));
  await Promise.all(ts.map((bytes, k) => writeFile(tsPaths[k]!, bytes)));
  const allPath = join(dir, `${spec.name}-all.ts`);
  await writeFile(allPath, Buffer.concat(ts));
  return { spec, mp4Path, init, segments, config, ts, tsPaths, allPath };
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nagare-mpegts-'));
  for (const made of await Promise.all(specs.map(makeStream))) streams.set(made.spec.name, made);
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const stream = (name: string): Stream => {
  const found = streams.get(name);
  assert.ok(found !== undefined, `fixture ${name}`);
  return found;
};

interface ProbePacket {
  readonly pts: number;
  readonly dts: number;
  readonly flags: string;
}

/** ffprobe's packets of one stream ('v' or 'a'), in file order. */
const probePackets = async (path: string, select: string): Promise<ProbePacket[]> => {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', select, '-show_entries', 'packet=pts,dts,flags'],
    ...['-of', 'json', path],
  ]);
  return (JSON.parse(stdout) as { packets?: ProbePacket[] }).packets ?? [];
};

interface ProbeStream {
  readonly codec_name?: string;
  readonly width?: number;
  readonly height?: number;
  readonly sample_rate?: string;
  readonly channels?: number;
  readonly nb_read_frames?: string;
}

/**
 * ffprobe's view of one stream. JSON rather than probeStream's CSV: for a transport stream ffprobe prints each
 * stream twice in CSV, once under its program. `-count_frames` decodes the whole stream to fill nb_read_frames.
 */
const probeOne = async (path: string, select: string, countFrames = false): Promise<ProbeStream> => {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', ...(countFrames ? ['-count_frames'] : []), '-select_streams', select],
    ...[
      '-show_entries',
      'stream=codec_name,width,height,sample_rate,channels,nb_read_frames',
      '-of',
      'json',
      path,
    ],
  ]);
  const [first] = (JSON.parse(stdout) as { streams: ProbeStream[] }).streams;
  assert.ok(first !== undefined, `ffprobe found no ${select} stream in ${path}`);
  return first;
};

const countFrames = async (path: string, select: string): Promise<number> =>
  Number((await probeOne(path, select, true)).nb_read_frames);

// ---- a minimal transport stream walker (ISO/IEC 13818-1 §2.4.3.2) for what ffprobe does not print ----

interface TsPacket {
  readonly pid: number;
  readonly unitStart: boolean;
  readonly counter: number;
  readonly hasPayload: boolean;
  readonly randomAccess: boolean;
  /** PCR base in 90 kHz ticks. */
  readonly pcr?: number;
  readonly payload: Uint8Array;
}

const walk = (ts: Uint8Array): TsPacket[] => {
  const packets: TsPacket[] = [];
  for (let at = 0; at < ts.length; at += 188) {
    const p = ts.subarray(at, at + 188);
    const control = (p[3]! >> 4) & 0x03;
    const fieldLength = (control & 0x02) !== 0 ? p[4]! : -1;
    const flags = fieldLength > 0 ? p[5]! : 0;
    const pcr =
      (flags & 0x10) !== 0
        ? p[6]! * 2 ** 25 + p[7]! * 2 ** 17 + p[8]! * 2 ** 9 + p[9]! * 2 + (p[10]! >> 7)
        : undefined;
    packets.push({
      pid: ((p[1]! & 0x1f) << 8) | p[2]!,
      unitStart: (p[1]! & 0x40) !== 0,
      counter: p[3]! & 0x0f,
      hasPayload: (control & 0x01) !== 0,
      randomAccess: (flags & 0x40) !== 0,
      ...(pcr === undefined ? {} : { pcr }),
      payload: p.subarray(fieldLength >= 0 ? 5 + fieldLength : 4),
    });
  }
  return packets;
};

/** PTS and DTS of a PES header at the start of a payload (ISO/IEC 13818-1 §2.4.3.7). */
const pesTimes = (payload: Uint8Array): { pts: number; dts: number } => {
  const time = (at: number): number =>
    ((payload[at]! >> 1) & 0x07) * 2 ** 30 +
    (payload[at + 1]! << 22) +
    ((payload[at + 2]! >> 1) << 15) +
    (payload[at + 3]! << 7) +
    (payload[at + 4]! >> 1);
  const pts = time(9);
  return { pts, dts: (payload[7]! & 0x40) !== 0 ? time(14) : pts };
};

for (const { name, video: videoSpec, audio: hasAudio } of specs) {
  const hasVideo = videoSpec !== undefined;
  describe(`remuxSegmentToTs on ffmpeg CMAF output (${name})`, () => {
    test('makes at least three segments, each whole 188-byte packets with sync byte 0x47', () => {
      const { ts } = stream(name);
      assert.ok(ts.length >= 3, `${ts.length} segments`);
      for (const bytes of ts) {
        assert.equal(bytes.length % 188, 0);
        for (let at = 0; at < bytes.length; at += 188) assert.equal(bytes[at], 0x47, `sync byte at ${at}`);
      }
    });

    test('leaves the init and segment bytes unchanged', () => {
      const { init, segments, config } = stream(name);
      const before = segments.map((segment) => segment.slice());
      const initBefore = init.slice();
      tsConfigFromInit(init);
      for (const segment of segments) remuxSegmentToTs(config, segment, offsetSeconds);
      assert.deepEqual(segments, before);
      assert.deepEqual(init, initBefore);
    });

    test('ffprobe sees the streams: h264 320x240, aac 48000 Hz stereo', async () => {
      for (const path of stream(name).tsPaths) {
        if (hasVideo) {
          const video = await probeOne(path, 'v:0');
          assert.deepEqual([video.codec_name, video.width, video.height], ['h264', 320, 240]);
        }
        if (hasAudio) {
          const audio = await probeOne(path, 'a:0');
          assert.deepEqual([audio.codec_name, audio.sample_rate, audio.channels], ['aac', '48000', 2]);
        }
      }
    });

    test('each segment and the concatenation of all decode without an error', async () => {
      const { tsPaths, allPath } = stream(name);
      for (const path of [...tsPaths, allPath]) assert.equal(await decodeErrors(path), '', path);
    });

    test('PAT then PMT open every segment; the PMT names the PIDs, stream types and PCR PID', () => {
      for (const bytes of stream(name).ts) {
        const [pat, pmt] = walk(bytes);
        assert.equal(pat?.pid, 0);
        // After pointer_field, table_id, section_length, transport_stream_id, version and section numbers:
        // program_number 1 → PMT PID 0x1000.
        assert.deepEqual([...pat.payload.subarray(9, 13)], [0x00, 0x01, 0xf0, 0x00]);
        assert.equal(pmt?.pid, 0x1000);
        const section = pmt.payload.subarray(1);
        assert.equal(section[0], 0x02, 'table_id of a PMT');
        const pcrPid = ((section[8]! & 0x1f) << 8) | section[9]!;
        assert.equal(pcrPid, hasVideo ? 0x100 : 0x101);
        const expected = [
          ...(hasVideo ? [0x1b, 0xe1, 0x00, 0xf0, 0x00] : []),
          ...(hasAudio ? [0x0f, 0xe1, 0x01, 0xf0, 0x00] : []),
        ];
        assert.deepEqual([...section.subarray(12, 12 + expected.length)], expected);
        assert.equal(
          section.subarray(12 + expected.length + 4).every((byte) => byte === 0xff),
          true,
        );
      }
    });

    test('continuity counters start at 0 per PID and step by one on every packet with a payload', () => {
      for (const bytes of stream(name).ts) {
        const last = new Map<number, number>();
        for (const packet of walk(bytes)) {
          if (!packet.hasPayload) continue;
          const expected = ((last.get(packet.pid) ?? 15) + 1) & 0x0f;
          assert.equal(packet.counter, expected, `PID ${packet.pid}`);
          last.set(packet.pid, packet.counter);
        }
        assert.equal(last.size, 2 + (hasVideo ? 1 : 0) + (hasAudio ? 1 : 0));
      }
    });

    test('PCRs on the PCR PID, at most 100 ms apart across all segments, never after a PES decode time', () => {
      const pcrPid = hasVideo ? 0x100 : 0x101;
      let previous: number | undefined;
      let count = 0;
      for (const packet of walk(Buffer.concat(stream(name).ts))) {
        if (packet.pcr === undefined) continue;
        count++;
        assert.equal(packet.pid, pcrPid);
        if (previous !== undefined) {
          assert.ok(packet.pcr >= previous, `PCR ${packet.pcr} after ${previous}`);
          assert.ok(packet.pcr - previous <= 9000, `PCR step ${packet.pcr - previous}`);
        }
        if (packet.unitStart) assert.ok(packet.pcr <= pesTimes(packet.payload).dts);
        previous = packet.pcr;
      }
      assert.ok(count >= 10 * seconds - 5, `${count} PCRs`);
    });

    test('the first PTS is offsetSeconds', async () => {
      const { allPath } = stream(name);
      for (const select of [...(hasVideo ? ['v:0'] : []), ...(hasAudio ? ['a:0'] : [])]) {
        const packets = await probePackets(allPath, select);
        assert.equal(Math.min(...packets.map((packet) => packet.pts)), offsetSeconds * 90000, select);
      }
    });

    if (hasAudio) {
      test("audio: one ADTS frame per AAC sample, no gaps, the fMP4's duration", async () => {
        const { allPath, mp4Path } = stream(name);
        const audio = await probePackets(allPath, 'a:0');
        assert.equal(audio.length, (await probePackets(mp4Path, 'a:0')).length);
        audio.forEach((packet, i) => {
          if (i > 0) assert.equal(packet.pts - audio[i - 1]!.pts, aacFrameTicks, `audio packet ${i}`);
        });
        const { stdout } = await run('ffprobe', [
          ...['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=duration'],
          ...['-of', 'csv=p=0', mp4Path],
        ]);
        const tsSeconds = (audio.length * aacFrameTicks) / 90000;
        assert.ok(
          Math.abs(tsSeconds - Number(stdout.trim())) < 0.025,
          `${tsSeconds} s vs ${stdout.trim()} s`,
        );
      });
    }
  });

  if (videoSpec === undefined) continue;
  const frameTicks = 90000 / videoSpec.fps;
  const frameCount = seconds * videoSpec.fps;

  describe(`remuxSegmentToTs video timing (${name})`, () => {
    test("decodes as many video frames as the fMP4's", async () => {
      const { allPath, mp4Path } = stream(name);
      const frames = await countFrames(allPath, 'v:0');
      assert.equal(frames, await countFrames(mp4Path, 'v:0'));
      assert.equal(frames, frameCount);
    });

    test('the first PTS of segment k+1 is the last PTS of segment k plus one frame', async () => {
      const spans: { first: number; last: number }[] = [];
      for (const path of stream(name).tsPaths) {
        const pts = (await probePackets(path, 'v:0')).map((packet) => packet.pts);
        spans.push({ first: Math.min(...pts), last: Math.max(...pts) });
      }
      assert.ok(spans.length >= 3);
      for (let k = 0; k + 1 < spans.length; k++) {
        assert.equal(spans[k + 1]!.first, spans[k]!.last + frameTicks, `segment ${k + 1}`);
      }
    });

    test('DTS ≤ PTS for every packet and DTS rises by one frame across the concatenation', async () => {
      const video = await probePackets(stream(name).allPath, 'v:0');
      assert.equal(video.length, frameCount);
      video.forEach((packet, i) => {
        assert.ok(packet.dts <= packet.pts, `packet ${i}: DTS ${packet.dts} > PTS ${packet.pts}`);
        if (i > 0) assert.equal(packet.dts - video[i - 1]!.dts, frameTicks, `packet ${i}`);
      });
      const reordered = video.some((packet, i) => i > 0 && packet.pts < video[i - 1]!.pts);
      assert.equal(reordered, videoSpec.bFrames > 0, 'frames are reordered exactly when there are B-frames');
    });

    test('random_access_indicator marks exactly the keyframe PES, the first video PES of every segment', async () => {
      const { ts, allPath } = stream(name);
      const keyframes = (await probePackets(allPath, 'v:0')).filter((packet) => packet.flags.startsWith('K'));
      let marked = 0;
      for (const bytes of ts) {
        const starts = walk(bytes).filter((packet) => packet.pid === 0x100 && packet.unitStart);
        assert.equal(starts[0]?.randomAccess, true);
        marked += starts.filter((packet) => packet.randomAccess).length;
      }
      assert.equal(marked, keyframes.length);
    });

    test('offsetSeconds moves every PTS and DTS by the same amount', () => {
      const { config, segments } = stream(name);
      const times = (offset: number): number[] =>
        walk(remuxSegmentToTs(config, segments[1]!, offset))
          .filter((packet) => packet.unitStart && (packet.pid === 0x100 || packet.pid === 0x101))
          .flatMap((packet) => Object.values(pesTimes(packet.payload)));
      const base = times(offsetSeconds);
      assert.ok(base.length > 0);
      assert.deepEqual(
        base.map((ticks) => ticks + 10 * 90000),
        times(offsetSeconds + 10),
      );
    });
  });
}

describe('readFragmentSamples data offsets and composition offsets (hand-made moof)', () => {
  /**
   * Track 1: tfhd base_data_offset (pointing at the mdat payload), a trun without data_offset, then a trun with
   * data_offset 10. Track 2: a tfhd with neither base_data_offset nor default-base-is-moof, so its data starts
   * where track 1's ended (ISO/IEC 14496-12 §8.8.7.1), and composition offsets −5 and 7.
   */
  const build = (trunVersion: number): { bytes: Uint8Array; payloadStart: number } => {
    const moof = (base: number): Uint8Array =>
      box(
        'moof',
        fullBox('mfhd', 0, 0, u32(1)),
        box(
          'traf',
          fullBox('tfhd', 0, 0x000019, u32(1), u64(BigInt(base)), u32(512), u32(3)),
          fullBox('tfdt', 1, 0, u64(1000n)),
          fullBox('trun', 0, 0x000000, u32(2)),
          fullBox('trun', 0, 0x000001, u32(1), u32(10)),
        ),
        box(
          'traf',
          fullBox('tfhd', 0, 0x000018, u32(2), u32(1024), u32(2)),
          fullBox('tfdt', 0, 0, u32(0)),
          fullBox('trun', trunVersion, 0x000800, u32(2), u32(-5 >>> 0), u32(7)),
        ),
      );
    const payloadStart = moof(0).length + 8;
    const payload = Uint8Array.from({ length: 17 }, (_, i) => i);
    return { bytes: concat(moof(payloadStart), box('mdat', payload)), payloadStart };
  };

  const read = (bytes: Uint8Array) => {
    const [moof, mdat] = listBoxes(bytes, 0, bytes.length);
    const init = parseInit(stream('b-frames').init);
    return readFragmentSamples(bytes, moof!, mdat!, init).map((track) => ({
      trackId: track.trackId,
      samples: track.samples.map(
        ({ decodeTicks, durationTicks, compositionOffsetTicks, dataStart, size }) => [
          decodeTicks,
          durationTicks,
          compositionOffsetTicks,
          dataStart,
          size,
        ],
      ),
    }));
  };

  test('trun version 1: base_data_offset, runs that continue, a traf after the previous one, signed offsets', () => {
    const { bytes, payloadStart: at } = build(1);
    assert.deepEqual(read(bytes), [
      {
        trackId: 1,
        samples: [
          [1000, 512, 0, at, 3],
          [1512, 512, 0, at + 3, 3],
          [2024, 512, 0, at + 10, 3],
        ],
      },
      {
        trackId: 2,
        samples: [
          [0, 1024, -5, at + 13, 2],
          [1024, 1024, 7, at + 15, 2],
        ],
      },
    ]);
  });

  test('trun version 0: composition offsets are unsigned', () => {
    const [, audio] = read(build(0).bytes);
    assert.deepEqual(
      audio?.samples.map((sample) => sample[2]),
      [2 ** 32 - 5, 7],
    );
  });

  test('one more sample than the mdat holds is a ParseError naming the mdat', () => {
    const { bytes } = build(1);
    const [moof] = listBoxes(bytes, 0, bytes.length);
    const shortMdat = concat(bytes.subarray(0, moof!.end), box('mdat', new Uint8Array(16)));
    assert.throws(() => read(shortMdat), /outside the 'mdat' payload/);
  });
});

test('an access unit over 64 KiB goes in a video PES with PES_packet_length 0 and still decodes', async () => {
  const path = join(dir, 'big.mp4');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30'],
    ...['-frames:v', '3', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '1', '-bf', '0'],
    ...[
      '-pix_fmt',
      'yuv420p',
      '-f',
      'mp4',
      '-movflags',
      '+frag_keyframe+empty_moov+default_base_moof+cmaf',
      path,
    ],
  ]);
  const { init, segments } = split(new Uint8Array(await readFile(path)));
  const ts = Buffer.concat(segments.map((segment) => remuxSegmentToTs(tsConfigFromInit(init), segment, 1)));
  const lengths = walk(ts)
    .filter((packet) => packet.pid === 0x100 && packet.unitStart)
    .map((packet) => (packet.payload[4]! << 8) | packet.payload[5]!);
  assert.equal(lengths.length, 3);
  assert.ok(lengths.includes(0), `PES_packet_length ${lengths.join(', ')}`);
  await writeFile(join(dir, 'big.ts'), ts);
  assert.equal(await decodeErrors(join(dir, 'big.ts')), '');
  assert.equal(await countFrames(join(dir, 'big.ts'), 'v:0'), 3);
});

/** The offset of a trun's first sample_size field, and of the first video sample, in segment 0. */
const locateFirstVideoSample = (segment: Uint8Array): { sizeField: number; dataOffsetField: number } => {
  const moof = listBoxes(segment, 0, segment.length).find((box) => box.type === 'moof')!;
  const traf = childBoxes(segment, moof).find((box) => box.type === 'traf')!;
  const trun: Box = childBoxes(segment, traf).find((box) => box.type === 'trun')!;
  const flags = (segment[trun.contentStart + 2]! << 8) | segment[trun.contentStart + 3]!;
  assert.equal(flags & 0x001, 0x001, 'ffmpeg writes a trun data_offset');
  const dataOffsetField = trun.contentStart + 8;
  const afterFirstFlags = dataOffsetField + 4 + ((flags & 0x004) !== 0 ? 4 : 0);
  assert.equal(flags & 0x200, 0x200, 'ffmpeg writes per-sample sizes');
  const sizeField = afterFirstFlags + ((flags & 0x100) !== 0 ? 4 : 0);
  return { sizeField, dataOffsetField };
};

const setU32 = (bytes: Uint8Array, at: number, value: number): Uint8Array => {
  const copy = bytes.slice();
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setUint32(at, value);
  return copy;
};

const u32At = (bytes: Uint8Array, at: number): number =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at);

describe('malformed input throws ParseError', () => {
  test('a truncated init', () => {
    const { init } = stream('b-frames');
    for (const length of [0, 7, 30, 200, Math.floor(init.length / 2), init.length - 1]) {
      assert.throws(() => tsConfigFromInit(init.subarray(0, length)), ParseError, `init cut to ${length}`);
    }
  });

  test('a truncated segment', () => {
    const { config, segments } = stream('b-frames');
    const segment = segments[0]!;
    for (const length of [0, 7, 20, 300, Math.floor(segment.length / 2), segment.length - 1]) {
      assert.throws(
        () => remuxSegmentToTs(config, segment.subarray(0, length), 0),
        ParseError,
        `segment cut to ${length}`,
      );
    }
  });

  test("a trun whose data_offset or first sample size points past the mdat names the 'mdat'", () => {
    const { config, segments } = stream('b-frames');
    const segment = segments[0]!;
    const { sizeField, dataOffsetField } = locateFirstVideoSample(segment);
    const pastOffset = setU32(segment, dataOffsetField, u32At(segment, dataOffsetField) + segment.length);
    const pastSize = setU32(segment, sizeField, segment.length);
    for (const bad of [pastOffset, pastSize]) {
      assert.throws(
        () => remuxSegmentToTs(config, bad, 0),
        (error: unknown) => {
          assert.ok(error instanceof ParseError);
          assert.match(error.reason, /outside the 'mdat' payload/);
          return true;
        },
      );
    }
  });

  test('a NAL unit length past the end of its sample', () => {
    const { config, segments } = stream('b-frames');
    const segment = segments[0]!;
    const moof = listBoxes(segment, 0, segment.length).find((box) => box.type === 'moof')!;
    const { dataOffsetField } = locateFirstVideoSample(segment);
    const sampleStart = moof.start + u32At(segment, dataOffsetField);
    const bad = setU32(segment, sampleStart, 0x7fffffff);
    assert.throws(
      () => remuxSegmentToTs(config, bad, 0),
      (error: unknown) => error instanceof ParseError && /NAL unit length 2147483647/.test(error.reason),
    );
  });

  test('a moof without an mdat, and a segment without a moof', () => {
    const { config, segments } = stream('b-frames');
    const segment = segments[0]!;
    const moof = listBoxes(segment, 0, segment.length).find((box) => box.type === 'moof')!;
    assert.throws(() => remuxSegmentToTs(config, segment.subarray(0, moof.end), 0), /without an 'mdat'/);
    assert.throws(() => remuxSegmentToTs(config, stream('b-frames').init, 0), /missing 'moof'/);
  });

  test('random bytes (seeded)', () => {
    const { config } = stream('b-frames');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        assert.throws(() => tsConfigFromInit(bytes), ParseError);
        assert.throws(() => remuxSegmentToTs(config, bytes, 0), ParseError);
      }),
      { seed: 24100, numRuns: 300 },
    );
  });

  test('single-byte mutations of a real segment and init give TS or ParseError, nothing else (seeded)', () => {
    const { config, segments, init } = stream('b-frames');
    const segment = segments[0]!;
    // Mutations land in the boxes' headers and tables four times in five, where they matter most.
    const moofEnd = listBoxes(segment, 0, segment.length).find((box) => box.type === 'moof')!.end;
    const mutation = fc.record({
      inHeader: fc.nat(4),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    });
    let remuxed = 0;
    let rejected = 0;
    fc.assert(
      fc.property(mutation, ({ inHeader, at, value }) => {
        const bytes = segment.slice();
        bytes[inHeader > 0 ? at % moofEnd : at % bytes.length] = value;
        const copy = bytes.slice();
        try {
          const ts = remuxSegmentToTs(config, bytes, 0);
          assert.equal(ts.length % 188, 0);
          remuxed++;
        } catch (error) {
          assert.ok(error instanceof ParseError, `not a ParseError: ${String(error)}`);
          rejected++;
        }
        assert.deepEqual(bytes, copy, 'input unchanged');
      }),
      { seed: 24101, numRuns: 500 },
    );
    assert.ok(remuxed > 0 && rejected > 0, `${remuxed} remuxed, ${rejected} rejected`);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const bytes = init.slice();
        bytes[at % bytes.length] = value;
        try {
          tsConfigFromInit(bytes);
        } catch (error) {
          assert.ok(error instanceof ParseError, `not a ParseError: ${String(error)}`);
        }
      }),
      { seed: 24102, numRuns: 500 },
    );
  });
});
