/**
 * The LL-HLS origin without the media pipeline: a real CMAF stream made by ffmpeg, split by the real Fmp4Splitter
 * and fed by hand into a real VariantPackager, served by a real HlsOrigin on 127.0.0.1 behind both of the servers
 * it has in Nagare: the HLS port's LeanHttpServer (`port`, what the tests load) and node:http (`nodePort`, as on
 * the main port), each on port 0.
 * Only the HlsStream is a test double (the origin reads its `runId`, `variants` and `packagers`).
 * Requests go through node:http with the path sent as written (fetch would normalise `..` and `%2e%2e`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerJson, nodeExchange, type HttpExchange } from '../../src/http/http-exchange.ts';
import { LeanHttpServer } from '../../src/http/lean-http-server.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Fmp4Splitter, type FragmentInfo, type InitInfo } from '../../src/hls/format/fmp4-reader.ts';
import { VariantPackager } from '../../src/hls/variant-packager.ts';
import type { HlsStream } from '../../src/media/hls-output.ts';
import { Audience } from '../../src/lib/audience.ts';
import { HlsOrigin } from '../../src/origin/hls-origin.ts';

const run = promisify(execFile);

export interface Stream {
  readonly init: { readonly bytes: Uint8Array; readonly info: InitInfo };
  readonly fragments: readonly { readonly bytes: Uint8Array; readonly info: FragmentInfo }[];
  /** CODECS as ffprobe (profile, level) and ffmpeg's own SPS parser (constraint flags) read the stream. */
  readonly codecs: string;
}

/** `seconds` of 320x240 30 fps H.264 + 48 kHz AAC, a keyframe every 2 s, 0.5 s CMAF fragments. */
export async function makeStream(dir: string, seconds: number): Promise<Stream> {
  const path = join(dir, `stream-${seconds}s.mp4`);
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds)],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'main', '-g', '60', '-keyint_min', '60'],
    ...['-sc_threshold', '0', '-bf', '0', '-c:a', 'aac', '-b:a', '64k', '-f', 'mp4'],
    ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf', '-frag_duration', '500000', path],
  ]);
  const splitter = new Fmp4Splitter();
  const units = [...splitter.push(new Uint8Array(await readFile(path))), ...splitter.flush()];
  const [init, ...rest] = units;
  assert.equal(init?.type, 'init');
  const fragments = rest.map((unit) => {
    assert.equal(unit.type, 'fragment');
    return { bytes: unit.bytes, info: unit.info };
  });
  return { init: { bytes: init.bytes, info: init.info }, fragments, codecs: await probeCodecs(path) };
}

const hex2 = (value: number): string => value.toString(16).toUpperCase().padStart(2, '0');

/** RFC 6381 strings: avc1.PPCCLL (ISO/IEC 14496-15 §E.3) and mp4a.40.<audio object type>. */
async function probeCodecs(path: string): Promise<string> {
  const probed = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=profile,level',
    '-of',
    'json',
    path,
  ]);
  const [video, audio] = (JSON.parse(probed.stdout) as { streams: { profile: string; level?: number }[] })
    .streams;
  const profileIdc = { Baseline: 66, 'Constrained Baseline': 66, Main: 77, High: 100 }[video?.profile ?? ''];
  const objectType = { LC: 2, 'HE-AAC': 5, 'HE-AACv2': 29 }[audio?.profile ?? ''];
  assert.ok(profileIdc !== undefined && video?.level !== undefined, `video profile ${video?.profile}`);
  assert.ok(objectType !== undefined, `audio profile ${audio?.profile}`);
  // ffprobe names the profile but not the constraint_set flags byte: read it with ffmpeg's SPS parser.
  const traced = await run('ffmpeg', [
    ...['-hide_banner', '-i', path, '-map', '0:v', '-c', 'copy', '-bsf:v', 'trace_headers'],
    ...['-frames:v', '1', '-f', 'null', '-'],
  ]);
  let flags = 0;
  for (let i = 0; i < 6; i++) {
    const bit = new RegExp(`\\sconstraint_set${i}_flag\\s+[01]+ = (\\d)`).exec(traced.stderr)?.[1];
    assert.ok(bit !== undefined, `trace_headers printed no constraint_set${i}_flag`);
    flags |= Number(bit) << (7 - i);
  }
  // "Constrained Baseline" is profile_idc 66 with constraint_set1_flag (ITU-T H.264 §A.2.1.1).
  if (video.profile === 'Constrained Baseline') assert.ok((flags & 0x40) !== 0);
  return `avc1.${hex2(profileIdc)}${hex2(flags)}${hex2(video.level)},mp4a.40.${objectType}`;
}

export const runId = 'abcd1234';

export interface Origin {
  /** The LeanHttpServer's port. */
  readonly port: number;
  /** node:http's port, for the same origin. */
  readonly nodePort: number;
  readonly playlistId: string;
  /** `/hls/<playlist id>/` */
  readonly root: string;
  /** `/hls/<playlist id>/<run>/v0/`: where the media playlist, init, segments and parts are. */
  readonly media: string;
  readonly packager: VariantPackager;
  readonly origin: HlsOrigin;
  /** Who the stream's answers went to, as the origin counts them. */
  readonly audience: Audience;
  /** Fragments of the stream added so far. */
  readonly added: number;
  /** Adds the next `count` fragments of the stream to the packager. */
  add(count?: number): void;
  /** Errors `handle` threw (a crash); a test expects none. */
  readonly crashes: unknown[];
  close(): Promise<void>;
}

export async function startOrigin(
  stream: Stream,
  windowSegments: number,
  maxRequests?: number,
): Promise<Origin> {
  const playlistId = randomBytes(16).toString('hex');
  const packager = new VariantPackager({
    segmentSeconds: 2,
    partTargetSeconds: 0.5,
    windowSegments,
    epochWallclockMs: Date.now(),
  });
  packager.setInit(stream.init.bytes, stream.init.info, 0);
  const hlsStream: HlsStream & { audience: Audience } = {
    runId,
    variants: [
      {
        video: { width: 320, height: 240, fps: 30, bps: 500_000, codec: 'h264_main' },
        audio: { bps: 64_000 },
        durationSeconds: 2,
      },
    ],
    packagers: [packager],
    audience: new Audience(),
  };
  const origin = new HlsOrigin({
    streamFor: (id) => (id === playlistId ? hlsStream : undefined),
    ...(maxRequests === undefined ? {} : { maxRequests }),
  });
  const crashes: unknown[] = [];
  const handle = (exchange: HttpExchange): void => {
    origin.handle(exchange).then(
      (handled) => {
        if (!handled) answerJson(exchange, 404, { error: { code: 'NotFound', message: 'not found' } });
      },
      (error: unknown) => {
        crashes.push(error);
        exchange.answer(500, {}, '');
      },
    );
  };
  const lean = new LeanHttpServer(handle);
  await new Promise<void>((resolve) => {
    lean.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const server = createServer((req, res) => {
    handle(nodeExchange(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let added = 0;
  return {
    port: (lean.server.address() as AddressInfo).port,
    nodePort: (server.address() as AddressInfo).port,
    playlistId,
    root: `/hls/${playlistId}/`,
    media: `/hls/${playlistId}/${runId}/v0/`,
    packager,
    origin,
    audience: hlsStream.audience,
    get added() {
      return added;
    },
    add(count = 1) {
      for (let i = 0; i < count; i++) {
        const fragment = stream.fragments[added];
        assert.ok(fragment !== undefined, `the stream has only ${stream.fragments.length} fragments`);
        packager.addFragment(fragment.bytes, fragment.info);
        added += 1;
      }
    },
    crashes,
    close: async () => {
      // Ending the packager releases any request still waiting, so close() does not wait on them.
      packager.end();
      lean.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
  /** performance.now() when the whole answer had arrived. */
  readonly at: number;
}

export interface RequestOptions {
  readonly method?: string;
  readonly signal?: AbortSignal;
}

/** One request on its own connection, the path sent byte for byte as given. */
export function request(port: number, path: string, options: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        signal: options.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const at = performance.now();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString(), at });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The `{ error: { code, message } }` body every error of the server has. */
export function errorOf(answer: Answer): { code: string; message: string } {
  assert.match(String(answer.headers['content-type']), /^application\/json/);
  const parsed = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
  const { code, message } = parsed.error ?? {};
  assert.ok(typeof code === 'string' && typeof message === 'string', answer.text);
  return { code, message };
}

/** Polls `condition` every 5 ms; fails after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Starts a request that the origin should hold, and resolves once the origin holds it (waitingRequests rose by one)
 * and it is still unanswered a little later.
 */
export async function startWaiting(
  origin: Origin,
  path: string,
  options: RequestOptions = {},
): Promise<{ answer: Promise<Answer>; isAnswered(): boolean }> {
  const before = origin.origin.waitingRequests;
  let answered = false;
  const answer = request(origin.port, path, options);
  answer.then(
    () => (answered = true),
    () => (answered = true),
  );
  await until(() => origin.origin.waitingRequests > before || answered, `the origin to hold ${path}`);
  await sleep(50);
  assert.equal(answered, false, `${path} was answered at once`);
  return { answer, isAnswered: () => answered };
}

export interface OriginSuite {
  /** A temporary directory of the suite, removed after it. */
  readonly dir: string;
  /** The suite's ffmpeg stream (made once, in `before`). */
  readonly stream: Stream;
  /**
   * A new origin over the stream, closed after the suite; its crashes fail the test that started it. `maxRequests`:
   * HlsOrigin's limit of requests in progress (default none).
   */
  serve(windowSegments?: number, maxRequests?: number): Promise<Origin>;
}

/** Registers the set-up and clean-up every origin test file needs. Call at the top level of a test file. */
export function useOriginSuite(seconds: number): OriginSuite {
  let dir = '';
  let stream: Stream | undefined;
  const origins: Origin[] = [];
  /** Origins started by the current test: each test answers for its own crashes only. */
  let started: Origin[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nagare-hls-origin-'));
    stream = await makeStream(dir, seconds);
  });

  after(async () => {
    await Promise.all(origins.map((origin) => origin.close()));
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    for (const origin of started) {
      assert.deepEqual(origin.crashes.map(String), [], 'HlsOrigin.handle threw');
    }
    started = [];
  });

  return {
    get dir() {
      return dir;
    },
    get stream() {
      assert.ok(stream !== undefined, 'the stream was not made (suite set-up failed)');
      return stream;
    },
    async serve(windowSegments = 4, maxRequests?: number) {
      const origin = await startOrigin(this.stream, windowSegments, maxRequests);
      origins.push(origin);
      started.push(origin);
      return origin;
    },
  };
}
