/**
 * The ffmpeg command lines of the media pipeline as argv, without running ffmpeg: which options go to the input
 * and which to each output, the filter chains, and the per-variant encoder settings. The argv is parsed the way
 * ffmpeg reads it (options apply to the next file named), so an option given to the wrong file fails here.
 * Real ffmpeg runs these command lines in test/integration/media-pipeline.test.ts, and the keyframe expression
 * in test/integration/segment-schedule.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { H264Profile, HlsVariant } from '../../src/channel/channel-spec.ts';
import {
  forceKeyframesExpression,
  segmentScheduleFor,
  type SegmentSchedule,
} from '../../src/hls/segment-schedule.ts';
import { decoderArgs, directArgs, encoderArgs, type DecoderArgsInput } from '../../src/media/media-args.ts';

/** The options of ffmpeg's that take no value; every other option takes the next argument. */
const switches = new Set(['-hide_banner', '-nostats', '-copyts']);
/** ffmpeg's global options: they apply to the whole run wherever they stand, not to the next file. */
const globalOptions = new Set(['-hide_banner', '-nostats', '-loglevel', '-copyts', '-filter_complex']);

type Option = readonly [flag: string, value?: string];

/** An input (after -i) or an output with the options given to it, or the global options. */
interface FileArgs {
  kind: 'global' | 'input' | 'output';
  url: string;
  options: Option[];
}

/** A command line as ffmpeg reads it: the global options, then each file with its own options, in order. */
interface CommandLine {
  globals: FileArgs;
  files: FileArgs[];
}

/**
 * Splits an argv as ffmpeg does, asserting on the way that no argument is empty, that every option but a switch
 * has a value (not another option), and that no option trails after the last output.
 */
function parse(args: readonly string[]): CommandLine {
  const globals: FileArgs = { kind: 'global', url: '(global)', options: [] };
  const files: FileArgs[] = [];
  let options: Option[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    assert.ok(arg !== undefined && arg !== '', `argument ${index} is empty`);
    const to = globalOptions.has(arg) ? globals.options : options;
    if (switches.has(arg)) {
      to.push([arg]);
    } else if (arg.startsWith('-')) {
      const value = args[++index];
      assert.ok(value !== undefined && value !== '', `${arg} has a value`);
      assert.ok(!value.startsWith('-'), `${arg} has a value, not the option ${value}`);
      if (arg === '-i') {
        files.push({ kind: 'input', url: value, options });
        options = [];
      } else {
        to.push([arg, value]);
      }
    } else {
      files.push({ kind: 'output', url: arg, options });
      options = [];
    }
  }
  assert.deepEqual(options, [], 'no options after the last output');
  return { globals, files };
}

const valuesOf = (file: FileArgs, flag: string): (string | undefined)[] =>
  file.options.filter(([name]) => name === flag).map(([, value]) => value);

/** The value of an option given exactly once to a file. */
function valueOf(file: FileArgs, flag: string): string {
  const values = valuesOf(file, flag);
  assert.equal(values.length, 1, `${flag} is given once to ${file.url}`);
  const [value] = values;
  assert.ok(value !== undefined, `${flag} has a value`);
  return value;
}

/** The global options, the one input and the outputs, in order. */
function split(args: readonly string[]): { globals: FileArgs; input: FileArgs; outputs: FileArgs[] } {
  const { globals, files } = parse(args);
  const inputs = files.filter((file) => file.kind === 'input');
  assert.equal(inputs.length, 1, 'one input');
  const [input] = inputs;
  assert.ok(input !== undefined);
  assert.equal(files[0], input, 'the input comes before the outputs');
  return { globals, input, outputs: files.slice(1) };
}

/** The output written to `url`. */
function outputTo(args: readonly string[], url: string): FileArgs {
  const output = split(args).outputs.find((file) => file.url === url);
  assert.ok(output !== undefined, `an output to ${url}`);
  return output;
}

/** A filter chain `a=x:y,b=z` as [name, parameters] in order. */
const filtersOf = (chain: string): [name: string, parameters: string[]][] =>
  chain.split(',').map((filter) => {
    const [name = '', parameters = ''] = filter.split(/=(.*)/s);
    return [name, parameters.split(':')];
  });

describe('decoderArgs', () => {
  interface DecoderCase {
    name: string;
    input: DecoderArgsInput;
    outputs: string[];
    /** The first audio sample's number at 48 kHz, when there is audio. */
    firstSample?: number;
  }
  const videoSocket = '/tmp/nagare-decoder-test.sock';
  const videoUrl = `unix:${videoSocket}`;
  const cases: DecoderCase[] = [
    {
      name: 'camera and microphone',
      // 3/29 s × 48000 = 4965.52 samples: rounding, not truncation, makes 4966.
      input: {
        hasVideo: true,
        hasAudio: true,
        startSeconds: 3 / 29,
        width: 1280,
        height: 720,
        fps: 29,
        videoSocket,
      },
      outputs: [videoUrl, 'pipe:3'],
      firstSample: 4966,
    },
    {
      name: 'camera only',
      input: {
        hasVideo: true,
        hasAudio: false,
        startSeconds: 12,
        width: 640,
        height: 360,
        fps: 30,
        videoSocket,
      },
      outputs: [videoUrl],
    },
    {
      name: 'microphone only',
      input: {
        hasVideo: false,
        hasAudio: true,
        startSeconds: 1234.5678,
        width: 640,
        height: 480,
        fps: 15,
        videoSocket,
      },
      outputs: ['pipe:3'],
      firstSample: 59_259_254,
    },
  ];

  for (const { name, input, outputs, firstSample } of cases) {
    test(`${name}: the decoder decodes with one thread and a small probe, given before its input`, () => {
      const { globals, input: decoder, outputs: written } = split(decoderArgs(input));
      assert.equal(decoder.url, 'pipe:0');
      assert.equal(valueOf(decoder, '-f'), 'matroska');
      assert.equal(valueOf(decoder, '-threads'), '1');
      assert.equal(valueOf(decoder, '-probesize'), '32768');
      assert.equal(valueOf(decoder, '-analyzeduration'), '100000');
      for (const other of [globals, ...written]) {
        assert.deepEqual(valuesOf(other, '-threads'), [], `no -threads for ${other.url}`);
      }
    });

    test(`${name}: the decoder keeps the channel clock's timestamps (-copyts)`, () => {
      assert.deepEqual(valuesOf(split(decoderArgs(input)).globals, '-copyts'), [undefined]);
    });

    test(`${name}: the decoder writes ${outputs.join(' and ')} and nothing else`, () => {
      const args = decoderArgs(input);
      assert.deepEqual(
        split(args).outputs.map((output) => output.url),
        outputs,
      );
      if (!input.hasVideo) assert.ok(!args.includes('-vf') && !args.includes('0:v:0'), 'no video options');
      if (!input.hasAudio) assert.ok(!args.includes('-af') && !args.includes('0:a:0'), 'no audio options');
    });

    if (input.hasVideo) {
      const { width, height, fps } = input;
      test(`${name}: scaled to fit ${width}x${height} keeping aspect, padded to exactly that, then at ${fps} fps (a repeated picture scaled once), raw I420 on a unix socket the decoder listens on`, () => {
        const video = outputTo(decoderArgs(input), videoUrl);
        assert.equal(valueOf(video, '-map'), '0:v:0');
        assert.equal(valueOf(video, '-f'), 'rawvideo');
        assert.equal(valueOf(video, '-listen'), '1');
        const filters = filtersOf(valueOf(video, '-vf'));
        assert.deepEqual(
          filters.map(([filter]) => filter),
          ['scale', 'pad', 'format', 'fps'],
        );
        const parametersOf = (filter: string): string[] => {
          const parameters = new Map(filters).get(filter);
          assert.ok(parameters !== undefined, `a ${filter} filter`);
          return parameters;
        };
        const scale = parametersOf('scale');
        const pad = parametersOf('pad');
        assert.deepEqual(parametersOf('fps'), [`fps=${fps}`, 'round=down']);
        assert.deepEqual(scale.slice(0, 2), [String(width), String(height)]);
        assert.ok(
          scale.includes('force_original_aspect_ratio=decrease'),
          `scale keeps aspect: ${scale.join(':')}`,
        );
        assert.ok(
          scale.includes('force_divisible_by=2'),
          `scale keeps even sizes for I420: ${scale.join(':')}`,
        );
        assert.deepEqual(pad.slice(0, 4), [String(width), String(height), '(ow-iw)/2', '(oh-ih)/2']);
        assert.deepEqual(parametersOf('format'), ['yuv420p']);
      });
    }

    if (input.hasAudio) {
      test(`${name}: audio from sample ${String(firstSample)} (start × 48000, rounded), gaps past 10 ms filled, s16le stereo 48 kHz on pipe 3`, () => {
        assert.ok(firstSample !== undefined, 'the case gives its first sample');
        const audio = outputTo(decoderArgs(input), 'pipe:3');
        assert.equal(valueOf(audio, '-map'), '0:a:0');
        assert.equal(valueOf(audio, '-af'), `aresample=async=1:min_hard_comp=0.01:first_pts=${firstSample}`);
        assert.equal(valueOf(audio, '-ac'), '2');
        assert.equal(valueOf(audio, '-ar'), '48000');
        assert.equal(valueOf(audio, '-f'), 's16le');
      });
    }
  }
});

describe('encoderArgs', () => {
  const variant = (
    width: number,
    height: number,
    fps: number,
    bps: number,
    codec: H264Profile,
    audioBps: number,
  ): HlsVariant => ({
    video: { width, height, fps, bps, codec },
    audio: { bps: audioBps },
    durationSeconds: 2,
  });
  const variants: readonly HlsVariant[] = [
    variant(1280, 720, 30, 2_500_000, 'h264_high', 128_000),
    variant(640, 360, 25, 800_000, 'h264_main', 64_000),
    variant(320, 180, 15, 300_000, 'h264_baseline', 32_000),
  ];
  const schedule = segmentScheduleFor(2, 0.2, [30, 25, 15]);
  const args = encoderArgs({ variants, partSeconds: 0.2, schedule, preset: 'veryfast' });
  const { globals, input, outputs } = split(args);
  const eachOutput = (check: (output: FileArgs, variant: HlsVariant, index: number) => void): void => {
    assert.equal(outputs.length, variants.length);
    variants.forEach((variant, index) => {
      const output = outputs[index];
      assert.ok(output !== undefined);
      check(output, variant, index);
    });
  };

  test('the encoder reads Matroska on pipe 0 with a small probe, and output times start at 0 (no -copyts)', () => {
    assert.equal(input.url, 'pipe:0');
    assert.equal(valueOf(input, '-f'), 'matroska');
    assert.equal(valueOf(input, '-probesize'), '32768');
    assert.equal(valueOf(input, '-analyzeduration'), '100000');
    assert.deepEqual(valuesOf(globals, '-copyts'), []);
  });

  test('one fMP4 (CMAF) output per variant, in order, on pipes 3, 4, 5', () => {
    assert.deepEqual(
      outputs.map((output) => output.url),
      ['pipe:3', 'pipe:4', 'pipe:5'],
    );
    eachOutput((output) => {
      assert.equal(valueOf(output, '-f'), 'mp4');
      const flags = valueOf(output, '-movflags').split('+');
      for (const flag of ['frag_keyframe', 'empty_moov', 'default_base_moof', 'cmaf']) {
        assert.ok(flags.includes(flag), `${output.url}: -movflags has ${flag}`);
      }
    });
  });

  test('the picture is split once per variant and each copy scaled to its variant size, square pixels', () => {
    assert.equal(
      valueOf(globals, '-filter_complex'),
      '[0:v]split=3[sv0][sv1][sv2];' +
        '[sv0]scale=1280:720:flags=bicubic,setsar=1[v0];' +
        '[sv1]scale=640:360:flags=bicubic,setsar=1[v1];' +
        '[sv2]scale=320:180:flags=bicubic,setsar=1[v2]',
    );
  });

  test('each output maps its own scaled picture and the one audio track', () => {
    eachOutput((output, _, index) => {
      assert.deepEqual(valuesOf(output, '-map'), [`[v${index}]`, '0:a:0']);
    });
  });

  test("each output runs at its variant's frame rate, constant", () => {
    eachOutput((output, { video }) => {
      assert.equal(valueOf(output, '-r'), String(video.fps));
      assert.equal(valueOf(output, '-fps_mode'), 'cfr');
    });
    assert.deepEqual(
      outputs.map((output) => valueOf(output, '-r')),
      ['30', '25', '15'],
    );
  });

  test("each variant's bit rate is its target, its cap and its one-second buffer", () => {
    assert.deepEqual(
      outputs.map((output) => ['-b:v', '-maxrate', '-bufsize'].map((flag) => valueOf(output, flag))),
      [
        ['2500000', '2500000', '2500000'],
        ['800000', '800000', '800000'],
        ['300000', '300000', '300000'],
      ],
    );
  });

  test("each variant's audio is AAC at its own bit rate, 48 kHz stereo", () => {
    assert.deepEqual(
      outputs.map((output) => valueOf(output, '-b:a')),
      ['128000', '64000', '32000'],
    );
    eachOutput((output) => {
      assert.equal(valueOf(output, '-c:a'), 'aac');
      assert.equal(valueOf(output, '-ar'), '48000');
      assert.equal(valueOf(output, '-ac'), '2');
      // Gaps in the sound filled with silence by time, from the run's start.
      assert.equal(valueOf(output, '-filter:a'), 'aresample=async=1:min_hard_comp=0.01:first_pts=0');
    });
  });

  test('the x264 profile is named after the codec: h264_high → high, h264_main → main, h264_baseline → baseline', () => {
    assert.deepEqual(
      outputs.map((output) => valueOf(output, '-profile:v')),
      ['high', 'main', 'baseline'],
    );
  });

  test('x264 at the given preset, I420, no B-frames, zero-latency tuning, no scene-cut keyframes', () => {
    eachOutput((output) => {
      assert.equal(valueOf(output, '-c:v'), 'libx264');
      assert.equal(valueOf(output, '-preset'), 'veryfast');
      assert.equal(valueOf(output, '-pix_fmt'), 'yuv420p');
      assert.equal(valueOf(output, '-bf'), '0');
      assert.equal(valueOf(output, '-tune'), 'zerolatency');
      assert.equal(valueOf(output, '-sc_threshold'), '0');
    });
  });

  const schedules: [string, SegmentSchedule][] = [
    ['a short first segment (0.6 s, then every 2 s)', segmentScheduleFor(2, 0.2, [30, 15])],
    ['no short first segment (every 2 s)', segmentScheduleFor(2, 1, [30])],
    ['4 s segments after 1.5 s', segmentScheduleFor(4, 0.5, [30])],
  ];
  test('the schedules of the next test force keyframes differently, so it can tell them apart', () => {
    const expressions = schedules.map(([, each]) => forceKeyframesExpression(each));
    assert.equal(new Set(expressions).size, schedules.length, expressions.join(' | '));
  });
  for (const [name, each] of schedules) {
    test(`with ${name}, every variant forces keyframes at the schedule's boundaries`, () => {
      const forced = encoderArgs({ variants, partSeconds: 0.2, schedule: each, preset: 'veryfast' });
      const expression = forceKeyframesExpression(each);
      assert.deepEqual(
        split(forced).outputs.map((output) => valueOf(output, '-force_key_frames')),
        variants.map(() => expression),
      );
    });
  }

  const gops: [segmentSeconds: number, fps: number, keyintMin: number, keyint: number][] = [
    [2, 30, 60, 120],
    [2, 15, 30, 60],
    [4, 25, 100, 200],
    [1, 60, 60, 120],
  ];
  for (const [segmentSeconds, fps, keyintMin, keyint] of gops) {
    test(`at ${fps} fps with ${segmentSeconds} s segments the GOP is at least ${keyintMin} frames (fps × segment) and at most ${keyint} (twice that)`, () => {
      const gopArgs = encoderArgs({
        variants: [variant(640, 360, fps, 800_000, 'h264_main', 64_000)],
        partSeconds: 0.2,
        schedule: segmentScheduleFor(segmentSeconds, 0.2, [fps]),
        preset: 'veryfast',
      });
      const [output] = split(gopArgs).outputs;
      assert.ok(output !== undefined);
      assert.equal(valueOf(output, '-keyint_min'), String(keyintMin));
      assert.equal(valueOf(output, '-g'), String(keyint));
    });
  }

  const parts: [partSeconds: number, microseconds: string][] = [
    [0.2, '200000'],
    [0.25, '250000'],
    [8 / 30, '266667'],
  ];
  for (const [partSeconds, microseconds] of parts) {
    test(`parts of ${partSeconds.toFixed(4)} s cut fragments every ${microseconds} µs, in every variant`, () => {
      const partArgs = encoderArgs({ variants, partSeconds, schedule, preset: 'veryfast' });
      assert.deepEqual(
        split(partArgs).outputs.map((output) => valueOf(output, '-frag_duration')),
        variants.map(() => microseconds),
      );
    });
  }

  test('one variant: a one-way split and one output on pipe 3', () => {
    const [first] = variants;
    assert.ok(first !== undefined);
    const single = encoderArgs({ variants: [first], partSeconds: 0.2, schedule, preset: 'veryfast' });
    const { globals: singleGlobals, outputs: singleOutputs } = split(single);
    assert.equal(
      valueOf(singleGlobals, '-filter_complex'),
      '[0:v]split=1[sv0];[sv0]scale=1280:720:flags=bicubic,setsar=1[v0]',
    );
    assert.deepEqual(
      singleOutputs.map((output) => output.url),
      ['pipe:3'],
    );
  });
});

describe('the argv, passed to spawn without a shell', () => {
  const argvs: [string, string[]][] = [
    [
      'the decoder',
      decoderArgs({
        hasVideo: true,
        hasAudio: true,
        startSeconds: 1,
        width: 640,
        height: 480,
        fps: 30,
        videoSocket: '/tmp/nagare-decoder-test.sock',
      }),
    ],
    [
      'the encoder',
      encoderArgs({
        variants: [
          {
            video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_high' },
            audio: { bps: 64_000 },
            durationSeconds: 2,
          },
        ],
        partSeconds: 0.2,
        schedule: segmentScheduleFor(2, 0.2, [30]),
        preset: 'veryfast',
      }),
    ],
  ];
  for (const [name, argv] of argvs) {
    test(`${name}: no argument is empty and every option has its value`, () => {
      assert.ok(argv.length > 0);
      for (const arg of argv) assert.equal(typeof arg, 'string');
      // parse asserts both on every argument, and that no option is left without a file to apply to.
      assert.ok(parse(argv).files.length >= 2);
    });
  }
});

describe('directArgs', () => {
  const variants: readonly HlsVariant[] = [
    {
      video: { width: 1280, height: 720, fps: 30, bps: 2_500_000, codec: 'h264_high' },
      audio: { bps: 128_000 },
      durationSeconds: 2,
    },
    {
      video: { width: 320, height: 180, fps: 15, bps: 300_000, codec: 'h264_baseline' },
      audio: { bps: 32_000 },
      durationSeconds: 2,
    },
  ];
  const schedule = segmentScheduleFor(2, 0.2, [30, 15]);
  const encoding = { variants, partSeconds: 0.2, schedule, preset: 'veryfast' };
  const canvas = { width: 1280, height: 720, fps: 30 };
  const args = directArgs({ ...encoding, canvas });
  const { globals, input, outputs } = split(args);
  const decoding: DecoderArgsInput = {
    hasVideo: true,
    hasAudio: true,
    startSeconds: 0,
    ...canvas,
    videoSocket: '/tmp/x.sock',
  };

  test('it reads Matroska on pipe 0 as the decoder does: -copyts, a small probe, one decoding thread', () => {
    assert.equal(input.url, 'pipe:0');
    assert.deepEqual(input.options, split(decoderArgs(decoding)).input.options);
    assert.equal(valueOf(input, '-threads'), '1');
    assert.deepEqual(valuesOf(globals, '-copyts'), [undefined]);
  });

  test('the publisher is fitted to the canvas with the decoder’s filters, then split and scaled as the encoder does', () => {
    const fitted = valueOf(outputTo(decoderArgs(decoding), 'unix:/tmp/x.sock'), '-vf');
    const encoderGraph = valueOf(split(encoderArgs(encoding)).globals, '-filter_complex');
    assert.ok(encoderGraph.startsWith('[0:v]split='));
    assert.equal(
      valueOf(globals, '-filter_complex'),
      `[0:v:0]${fitted},${encoderGraph.slice('[0:v]'.length)}`,
    );
  });

  test('its outputs are the encoder’s, option for option: x264 and AAC per variant, fMP4 on pipes 3 and 4', () => {
    assert.deepEqual(outputs, split(encoderArgs(encoding)).outputs);
    assert.deepEqual(
      outputs.map((output) => output.url),
      ['pipe:3', 'pipe:4'],
    );
  });
});
