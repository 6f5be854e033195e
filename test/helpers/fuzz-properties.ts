/**
 * One definition of the fuzz properties of every parser, run briefly by test/unit/fuzz.test.ts and at length by
 * bench/fuzz.ts. Contract checked everywhere: the parser succeeds or throws its own typed error (NagareError
 * InvalidParameter for API bodies, ParseError for wire formats) or, where it must not throw, returns a result;
 * the caller's input is never modified; no single case takes longer than `slowCaseMs`.
 *
 * Inputs are not only random: most are mutations of valid inputs (API bodies with a field replaced by any JSON
 * value, real Chromium RTP/RTCP from testdata/rtp with bit flips and cuts, ffmpeg's CMAF with box sizes and
 * bytes overwritten), so the fuzzer gets past the first length check.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import {
  parseCreateChannel,
  parseCreateMultistreamChannel,
  parseCreateMultistreamChannelWithHls,
  parseLayout,
} from '../../src/channel/channel-spec.ts';
import { NagareError } from '../../src/errors.ts';
import { isHeadError, parseRequestHead } from '../../src/http/request-head.ts';
import { Fmp4Splitter, parseFragment, parseInit, type InitInfo } from '../../src/hls/format/fmp4-reader.ts';
import { remuxSegmentToTs, tsConfigFromInit } from '../../src/hls/format/mpegts.ts';
import type { Codec, Depacketizer } from '../../src/rtp/encoded-frame.ts';
import { createDepacketizer } from '../../src/rtp/depacketizer.ts';
import { H264Depacketizer } from '../../src/rtp/h264-depacketizer.ts';
import { Vp8Depacketizer } from '../../src/rtp/vp8-depacketizer.ts';
import { Vp9Depacketizer } from '../../src/rtp/vp9-depacketizer.ts';
import { ParseError } from '../../src/rtp/parse-error.ts';
import { parseSenderReports, serializeSenderReport } from '../../src/rtp/rtcp.ts';
import { parseRtpPacket, serializeRtpPacket } from '../../src/rtp/rtp-packet.ts';
import { parseClientMessage } from '../../src/signaling/signaling-message.ts';
import { readCapture } from './rtp-capture.ts';

const run = promisify(execFile);

/** A case slower than this counts as a failure (a parser that nearly hangs on some input). */
export const slowCaseMs = 1000;

export interface FuzzOutcome {
  readonly name: string;
  readonly cases: number;
  readonly ms: number;
  readonly failed: boolean;
  /** fast-check's report (seed, path, counterexample, error) when failed. */
  readonly report?: string;
  /** The target's knownBug, copied by the bench so a failure it expects is told apart. */
  readonly knownBug?: string;
}

export interface FuzzTarget {
  readonly name: string;
  /** Set when the property finds a known bug in the source: the test is marked todo with this reason. */
  readonly knownBug?: string;
  run(numRuns: number, seed: number): FuzzOutcome;
}

function target<T>(name: string, arbitrary: fc.Arbitrary<T>, check: (input: T) => void): FuzzTarget {
  return {
    name,
    run(numRuns, seed) {
      const started = performance.now();
      const details = fc.check(
        fc.property(arbitrary, (input) => {
          const caseStart = performance.now();
          check(input);
          const ms = performance.now() - caseStart;
          if (ms > slowCaseMs) throw new Error(`one case took ${ms.toFixed(0)} ms`);
        }),
        { numRuns, seed },
      );
      const ms = performance.now() - started;
      const outcome = { name, cases: details.numRuns, ms: Math.round(ms), failed: details.failed };
      return details.failed ? { ...outcome, report: fc.defaultReportMessage(details) ?? 'failed' } : outcome;
    },
  };
}

const describeThrown = (err: unknown): string =>
  err instanceof Error ? `${err.constructor.name}: ${err.message}` : `non-Error ${String(err)}`;

/** Runs `parse`; anything thrown must satisfy `allowed`, else the case fails naming what was thrown. */
function onlyTyped(parse: () => unknown, allowed: (err: unknown) => boolean): void {
  try {
    parse();
  } catch (err) {
    if (!allowed(err)) throw new Error(`threw ${describeThrown(err)}`, { cause: err });
  }
}

const isParseError = (err: unknown): boolean => err instanceof ParseError;
const isInvalidParameter = (err: unknown): boolean =>
  err instanceof NagareError && err.code === 'InvalidParameter';

function assertUnchanged(after: Uint8Array, before: Uint8Array, what: string): void {
  if (!Buffer.from(after.buffer, after.byteOffset, after.byteLength).equals(before)) {
    throw new Error(`${what} was modified by the parser`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON bodies: valid ones with fields replaced, deleted or added.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Keys that JSON.parse makes own properties but that an object literal would treat specially. */
const awkwardKeys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'length', ''];

const jsonEdit = (knownKeys: readonly string[]) =>
  fc.record({
    pick: fc.nat(),
    op: fc.constantFrom('replace', 'replace', 'delete', 'add'),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(0, -1, 1.5, 1e308, -0, '', 'x'.repeat(300), [], {}, null, true, '2', '640'),
    ),
    key: fc.oneof(fc.constantFrom(...knownKeys, ...awkwardKeys), fc.string({ maxLength: 6 })),
  });
interface JsonEdit {
  pick: number;
  op: string;
  value: unknown;
  key: string;
}

/** Every container in the tree (objects and arrays), the root first. */
function containers(value: Json, out: (Json[] | { [key: string]: Json })[] = []): typeof out {
  if (value !== null && typeof value === 'object') {
    out.push(value);
    for (const child of Object.values(value)) containers(child, out);
  }
  return out;
}

/** A deep copy of `valid` (through JSON, as a body arrives) with the edits applied. */
function applyEdits(valid: Json, edits: readonly JsonEdit[]): unknown {
  const root = JSON.parse(JSON.stringify(valid)) as Json;
  for (const edit of edits) {
    const all = containers(root);
    const container = all[edit.pick % all.length];
    if (container === undefined) break;
    if (Array.isArray(container)) {
      const index = edit.pick % (container.length + (edit.op === 'add' ? 1 : 0) || 1);
      if (edit.op === 'delete') container.splice(index, 1);
      else container[index] = structuredClone(edit.value) as Json;
      continue;
    }
    const keys = Object.keys(container);
    const existing = keys[edit.pick % Math.max(1, keys.length)];
    const key = edit.op === 'add' || existing === undefined ? edit.key : existing;
    if (edit.op === 'delete') Reflect.deleteProperty(container, key);
    // defineProperty, as JSON.parse does, so '__proto__' becomes an own key rather than the prototype.
    else
      Object.defineProperty(container, key, {
        value: structuredClone(edit.value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return root;
}

function bodyArbitrary(valid: readonly Json[], knownKeys: readonly string[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...valid), fc.array(jsonEdit(knownKeys), { maxLength: 4 }))
        .map(([body, edits]) => applyEdits(body, edits)),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((text) => JSON.parse(text) as unknown) },
  );
}

const variant: Json = {
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_main' },
  audio: { bps: 64_000 },
  durationSeconds: 2,
  startTimeOffset: -3.5,
};
const layouts: Json[] = ['grid', { type: 'featured', order: ['a', 'client-b'] }, { type: 'pip' }];
const createChannelBodies: Json[] = [
  { hls: [variant] },
  {
    hls: [variant, { video: { width: 320, height: 240, fps: 15, bps: 300_000 }, audio: { bps: 32_000 } }],
    layout: layouts[1] ?? null,
    auth_webhook_url: 'https://example.com/auth',
    event_webhook_url: 'http://127.0.0.1:8080/event',
  },
];
const multistreamBodies: Json[] = [
  {},
  { auth_webhook_url: 'https://example.com/auth', event_webhook_url: 'https://e.example/x', environment: 1 },
];
const withHlsBodies: Json[] = createChannelBodies.map((body) => ({ ...(body as object), environment: 2 }));
const bodyKeys = [
  'hls',
  'video',
  'audio',
  'width',
  'height',
  'fps',
  'bps',
  'codec',
  'durationSeconds',
  'startTimeOffset',
  'archive',
  'layout',
  'type',
  'order',
  'auth_webhook_url',
  'event_webhook_url',
  'encrypt_key_uri',
  'environment',
];

function bodyTarget(name: string, parse: (body: unknown) => unknown, valid: readonly Json[]): FuzzTarget {
  return target(name, bodyArbitrary(valid, bodyKeys), (body) => {
    const before = structuredClone(body);
    onlyTyped(() => parse(body), isInvalidParameter);
    assert.deepStrictEqual(body, before, 'the body was modified by the parser');
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Signaling text.

const signalingMessages: Json[] = [
  {
    type: 'connect',
    role: 'sendonly',
    channel_id: 'ch-1',
    client_id: 'c',
    bundle_id: 'b',
    metadata: { access_token: 'x' },
    signaling_notify_metadata: null,
    sora_client: 'Sora JavaScript SDK 2026.1.0',
    environment: 'Chrome',
    audio: { codec_type: 'OPUS', bit_rate: 64 },
    video: { codec_type: 'H264', bit_rate: 1000 },
    multistream: true,
    simulcast: false,
    spotlight: false,
    data_channel_signaling: false,
    signaling_notify: true,
    redirect: false,
  },
  { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n' },
  { type: 're-answer', sdp: 'v=0\r\n' },
  { type: 'update', sdp: 'v=0\r\n' },
  {
    type: 'candidate',
    candidate: 'candidate:1 1 udp 2122 1.2.3.4 5 typ host',
    sdpMid: '0',
    sdpMLineIndex: 0,
  },
  { type: 'pong', stats: [] },
  { type: 'disconnect', reason: 'NO-ERROR' },
];
const signalingKeys = [
  'type',
  'role',
  'channel_id',
  'client_id',
  'bundle_id',
  'metadata',
  'audio',
  'video',
  'codec_type',
  'bit_rate',
  'sdp',
  'candidate',
  'sdpMid',
  'sdpMLineIndex',
  'usernameFragment',
  'reason',
  'redirect',
];

/** Text edits of a serialised message: a cut, a replaced character, an inserted one. */
const textEdit = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('cut', 'set', 'insert'),
  text: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }),
});

/** `text` with each edit applied in turn, its position taken modulo the text's length then. */
function applyTextEdits(text: string, edits: readonly { at: number; op: string; text: string }[]): string {
  let edited = text;
  for (const { at, op, text: piece } of edits) {
    const i = at % (edited.length + 1);
    if (op === 'cut') edited = edited.slice(0, i);
    else if (op === 'set') edited = edited.slice(0, i) + piece + edited.slice(i + 1);
    else edited = edited.slice(0, i) + piece + edited.slice(i);
  }
  return edited;
}

const signalingText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: bodyArbitrary(signalingMessages, signalingKeys).map((value) => JSON.stringify(value)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...signalingMessages), fc.array(textEdit, { minLength: 1, maxLength: 3 }))
      .map(([message, edits]) => applyTextEdits(JSON.stringify(message), edits)),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
);

function signalingTarget(): FuzzTarget {
  return target('parseClientMessage', signalingText, (text) => {
    let result: unknown;
    try {
      result = parseClientMessage(text);
    } catch (err) {
      throw new Error(`parseClientMessage must not throw; threw ${describeThrown(err)}`, { cause: err });
    }
    const shaped = result as { ok?: unknown; reason?: unknown; message?: unknown };
    assert.ok(
      (shaped.ok === true && typeof shaped.message === 'object') ||
        (shaped.ok === false && typeof shaped.reason === 'string'),
      'a result or a reason',
    );
  });
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP request heads: what players send, with characters cut, replaced and inserted (CR, LF, colons, spaces, NUL
// and high bytes most of all), and plain random text.

const playerHeads = [
  'GET /hls/0123456789abcdef0123456789abcdef/abcd1234/v0/index.m3u8?_HLS_msn=12&_HLS_part=3 HTTP/1.1\r\nHost: 127.0.0.1:5001\r\nConnection: keep-alive\r\nUser-Agent: Mozilla/5.0 Chrome/156.0.0.0\r\nAccept: */*\r\nOrigin: http://127.0.0.1:5000',
  'GET /hls/x/index.m3u8 HTTP/1.1\r\nUser-Agent: Lavf/59.27.100\r\nAccept: */*\r\nRange: bytes=0-\r\nConnection: close\r\nHost: 127.0.0.1:5001\r\nIcy-MetaData: 1',
  'GET /hls/x/1.2.m4s HTTP/1.0\r\nConnection: Keep-Alive\r\nUser-Agent: VLC/3.0.18 LibVLC/3.0.18',
  'HEAD http://example.com/hls/x/ts.m3u8 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0',
];

const headEdit = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('cut', 'set', 'insert'),
  text: fc.oneof(
    fc.constantFrom(
      '\r',
      '\n',
      '\r\n',
      ':',
      ' ',
      '\t',
      '\0',
      '\xff',
      '?',
      '/',
      'HTTP/1.1',
      'Content-Length: 5',
    ),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }),
  ),
});

const headText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...playerHeads), fc.array(headEdit, { minLength: 1, maxLength: 4 }))
      .map(([head, edits]) => applyTextEdits(head, edits)),
  },
  // Latin1, as the server decodes a head.
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
      maxLength: 200,
    }),
  },
);

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function requestHeadTarget(): FuzzTarget {
  return target('parseRequestHead', headText, (text) => {
    let result: ReturnType<typeof parseRequestHead>;
    try {
      result = parseRequestHead(text);
    } catch (err) {
      throw new Error(`parseRequestHead must not throw; threw ${describeThrown(err)}`, { cause: err });
    }
    if (isHeadError(result)) {
      assert.ok([400, 413, 431, 505].includes(result.status), `status ${result.status}`);
      assert.ok(result.reason.length > 0);
      return;
    }
    // What is accepted is one request and nothing else: no line break survives into any field.
    assert.match(result.method, tokenPattern);
    for (const field of [result.path, result.query, result.userAgent]) assert.ok(!/[\r\n\0]/.test(field));
    assert.ok(!/[\s]/.test(result.path), `a path with whitespace: ${JSON.stringify(result.path)}`);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Bytes: mutations of valid inputs.

const byteEdit = fc.record({
  kind: fc.constantFrom('flip', 'set', 'cut', 'size', 'insert', 'drop'),
  at: fc.nat(),
  value: fc.nat({ max: 0xffffffff }),
});
type ByteEdit = { kind: string; at: number; value: number };

/** Values a 32-bit length field is worth trying. */
const interestingSizes = [0, 1, 7, 8, 9, 16, 0x7fffffff, 0x80000000, 0xffffffff];

/** Offsets that look like an ISO BMFF box header (size, then four printable type characters). */
function boxHeaderOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  const printable = (b: number | undefined): boolean => b !== undefined && b >= 0x20 && b < 0x7f;
  for (let i = 0; i + 8 <= bytes.length; i++) {
    if (
      printable(bytes[i + 4]) &&
      printable(bytes[i + 5]) &&
      printable(bytes[i + 6]) &&
      printable(bytes[i + 7])
    ) {
      offsets.push(i);
    }
  }
  return offsets;
}

/** A fresh copy of `valid` with the edits applied; `boxes` are the offsets where 'size' edits write. */
function mutateBytes(
  valid: Uint8Array,
  edits: readonly ByteEdit[],
  boxes: readonly number[] = [],
): Uint8Array {
  let bytes = valid.slice();
  for (const { kind, at, value } of edits) {
    if (bytes.length === 0) break;
    const i = at % bytes.length;
    if (kind === 'flip') bytes[i] = (bytes[i] ?? 0) ^ (1 << (value & 7));
    else if (kind === 'set') bytes[i] = value & 0xff;
    else if (kind === 'cut') bytes = bytes.slice(0, i);
    else if (kind === 'insert')
      bytes = Buffer.concat([bytes.subarray(0, i), Buffer.alloc(value % 16, value), bytes.subarray(i)]);
    else if (kind === 'drop')
      bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1 + (value % 16))]);
    else {
      const box = boxes.length > 0 ? (boxes[at % boxes.length] ?? i) : i;
      if (box + 4 <= bytes.length) {
        const size = value & 1 ? (interestingSizes[value % interestingSizes.length] ?? 0) : value % 4096;
        new DataView(bytes.buffer, bytes.byteOffset).setUint32(box, size);
      }
    }
  }
  // A fresh exact-size buffer: no slack after the view for a parser to read by accident.
  return new Uint8Array(bytes);
}

function mutated(valid: readonly Uint8Array[], withBoxes = false, maxEdits = 4): fc.Arbitrary<Uint8Array> {
  const boxes = valid.map((bytes) => (withBoxes ? boxHeaderOffsets(bytes) : []));
  return fc
    .tuple(fc.nat({ max: valid.length - 1 }), fc.array(byteEdit, { maxLength: maxEdits }))
    .map(([index, edits]) => mutateBytes(valid[index] ?? new Uint8Array(), edits, boxes[index]));
}

const withRandom = (valid: fc.Arbitrary<Uint8Array>, maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: fc.uint8Array({ maxLength }) });

/** A view at a non-zero offset into a larger buffer, as a socket's packet often is. */
const inLargerBuffer = (bytes: Uint8Array, pad: number): Uint8Array => {
  const backing = new Uint8Array(bytes.length + 2 * pad).fill(0xa5);
  backing.set(bytes, pad);
  return backing.subarray(pad, pad + bytes.length);
};

function bytesTarget(
  name: string,
  arbitrary: fc.Arbitrary<Uint8Array>,
  parse: (bytes: Uint8Array) => unknown,
): FuzzTarget {
  return target(name, fc.tuple(arbitrary, fc.nat({ max: 3 })), ([raw, pad]) => {
    const bytes = inLargerBuffer(raw, pad);
    onlyTyped(() => parse(bytes), isParseError);
    assertUnchanged(bytes, raw, 'the input');
    for (let i = 0; i < pad; i++) {
      if (bytes.buffer instanceof ArrayBuffer && new Uint8Array(bytes.buffer)[i] !== 0xa5) {
        throw new Error('bytes before the view were modified');
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// RTP and depacketizers, from the Chromium captures in testdata/rtp.

interface RtpFixtures {
  readonly rtp: Uint8Array[];
  readonly rtcp: Uint8Array[];
  /** Per codec, the capture's payloads in order with their RTP timestamps and markers. */
  readonly payloads: Map<Codec, { payload: Uint8Array; timestamp: number; marker: boolean }[]>;
}

function loadRtp(): RtpFixtures {
  const rtp: Uint8Array[] = [];
  const rtcp: Uint8Array[] = [];
  const payloads = new Map<Codec, { payload: Uint8Array; timestamp: number; marker: boolean }[]>();
  for (const name of ['h264-opus', 'vp8-opus', 'vp9-opus']) {
    const capture = readCapture(new URL(`../../testdata/rtp/${name}.jsonl`, import.meta.url).pathname);
    for (const packet of capture.packets) {
      if (packet.type === 'rtcp') {
        rtcp.push(packet.data);
        continue;
      }
      rtp.push(packet.data);
      const codec: Codec = packet.kind === 'audio' ? 'opus' : capture.header.tracks.video.codec;
      // Opus from the first capture only: the three are the same microphone.
      if (codec === 'opus' && name !== 'h264-opus') continue;
      const parsed = parseRtpPacket(packet.data);
      const list = payloads.get(codec) ?? [];
      list.push({ payload: parsed.payload, timestamp: parsed.timestamp, marker: parsed.marker });
      payloads.set(codec, list);
    }
  }
  return { rtp, rtcp, payloads };
}

const rtpHeaderEdit = fc.record({
  // P, X and CC bits of the first byte, and the padding count in the last byte: what the parser reads lengths from.
  first: fc.integer({ min: 0, max: 0xff }),
  last: fc.option(fc.integer({ min: 0, max: 0xff })),
});

function rtpArbitrary(fixtures: RtpFixtures): fc.Arbitrary<Uint8Array> {
  const sample = fixtures.rtp.filter((_, i) => i % 7 === 0);
  const serialised = fc
    .record({
      payloadType: fc.integer({ min: 0, max: 127 }),
      sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
      timestamp: fc.nat({ max: 0xffffffff }),
      ssrc: fc.nat({ max: 0xffffffff }),
      marker: fc.boolean(),
      payload: fc.uint8Array({ maxLength: 64 }),
    })
    .chain((packet) =>
      rtpHeaderEdit.map(({ first, last }) => {
        const bytes = serializeRtpPacket(packet);
        bytes[0] = 0x80 | (first & 0x3f);
        if (last !== null && bytes.length > 12) bytes[bytes.length - 1] = last;
        return bytes;
      }),
    );
  return fc.oneof(
    { weight: 3, arbitrary: mutated(sample) },
    { weight: 2, arbitrary: serialised },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  );
}

function rtcpArbitrary(fixtures: RtpFixtures): fc.Arbitrary<Uint8Array> {
  const report = fc
    .array(
      fc.record({
        ssrc: fc.nat({ max: 0xffffffff }),
        ntpSeconds: fc.nat({ max: 0xffffffff }),
        ntpFraction: fc.nat({ max: 0xffffffff }),
        rtpTimestamp: fc.nat({ max: 0xffffffff }),
        packetCount: fc.nat({ max: 0xffffffff }),
        octetCount: fc.nat({ max: 0xffffffff }),
      }),
      { minLength: 1, maxLength: 3 },
    )
    .map((reports) => new Uint8Array(Buffer.concat(reports.map(serializeSenderReport))));
  return fc.oneof(
    { weight: 3, arbitrary: mutated(fixtures.rtcp) },
    { weight: 1, arbitrary: report.chain((bytes) => mutated([bytes])) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  );
}

/** A window of a capture's packets, some bit-flipped or cut, some lost, some duplicated or swapped. */
const packetStep = fc.record({
  edit: fc.constantFrom('keep', 'keep', 'keep', 'keep', 'mutate', 'lose', 'duplicate', 'swap', 'empty'),
  edits: fc.array(byteEdit, { minLength: 1, maxLength: 3 }),
});

const videoDepacketizers = { H264: H264Depacketizer, VP8: Vp8Depacketizer, VP9: Vp9Depacketizer } as const;

function depacketizerTarget(codec: Codec, fixtures: RtpFixtures): FuzzTarget {
  const packets = fixtures.payloads.get(codec) ?? [];
  assert.ok(packets.length > 100, `testdata has ${codec} packets`);
  const arbitrary = fc.tuple(
    fc.nat({ max: packets.length - 1 }),
    fc.array(packetStep, { minLength: 1, maxLength: 40 }),
    fc.option(fc.integer({ min: 1, max: 4000 })),
  );
  return target(`${codec} depacketizer`, arbitrary, ([start, steps, maxFrameBytes]) => {
    // A small maxFrameBytes now and then exercises the over-size path (createDepacketizer takes no options).
    const depacketizer: Depacketizer =
      maxFrameBytes === null || codec === 'opus'
        ? createDepacketizer(codec)
        : new videoDepacketizers[codec]({ maxFrameBytes });
    let pushes = 0;
    const pushed: { bytes: Uint8Array; copy: Uint8Array }[] = [];
    const push = (payload: Uint8Array, timestamp: number, marker: boolean): void => {
      const copy = payload.slice();
      let out: unknown;
      try {
        out = depacketizer.push(payload, timestamp, marker);
      } catch (err) {
        throw new Error(`${codec} push threw ${describeThrown(err)}`, { cause: err });
      }
      assert.ok(Array.isArray(out));
      pushes++;
      pushed.push({ bytes: payload, copy });
    };
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const packet = packets[(start + i) % packets.length];
      if (step === undefined || packet === undefined) break;
      const { payload, timestamp, marker } = packet;
      if (step.edit === 'lose') {
        assert.ok(Array.isArray(depacketizer.lose()));
      } else if (step.edit === 'mutate') {
        push(mutateBytes(payload, step.edits), timestamp, marker);
      } else if (step.edit === 'empty') {
        push(new Uint8Array(0), timestamp, marker);
      } else if (step.edit === 'swap') {
        const next = packets[(start + i + 1) % packets.length];
        if (next !== undefined) push(next.payload, next.timestamp, next.marker);
        push(payload, timestamp, marker);
      } else {
        push(payload, timestamp, marker);
        if (step.edit === 'duplicate') push(payload, timestamp, marker);
      }
    }
    for (const { bytes, copy } of pushed) assertUnchanged(bytes, copy, `a ${codec} payload`);
    const stats = depacketizer.stats();
    assert.equal(stats.packets, pushes, 'every push counted');
    assert.ok(stats.malformedPackets <= stats.packets, 'malformed packets are among the packets');
  });
}

// ---------------------------------------------------------------------------------------------------------------
// fMP4 and MPEG-TS, from a short H.264 + AAC CMAF stream made by ffmpeg.

interface Fmp4Fixtures {
  readonly stream: Uint8Array;
  readonly init: Uint8Array;
  readonly initInfo: InitInfo;
  readonly fragments: Uint8Array[];
}

/** Like makeStream in hls-origin-harness.ts, smaller: 160x120, 1 s, 250 ms fragments (H.264 main + AAC). */
async function makeFmp4(dir: string): Promise<Fmp4Fixtures> {
  const path = join(dir, 'fuzz.mp4');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '1'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'main', '-g', '15', '-bf', '2'],
    ...['-c:a', 'aac', '-b:a', '32k', '-f', 'mp4'],
    ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf', '-frag_duration', '250000', path],
  ]);
  const stream = new Uint8Array(await readFile(path));
  const splitter = new Fmp4Splitter();
  const units = [...splitter.push(stream), ...splitter.flush()];
  const [first, ...rest] = units;
  assert.ok(first?.type === 'init' && rest.length >= 2, 'ffmpeg wrote an init and fragments');
  return {
    stream,
    init: first.bytes,
    initInfo: first.info,
    fragments: rest.map((unit) => unit.bytes),
  };
}

function fmp4Targets(media: Fmp4Fixtures): FuzzTarget[] {
  const config = tsConfigFromInit(media.init);
  const fragments = media.fragments.slice(0, 3);
  const initInput = withRandom(mutated([media.init], true, 3), 800);
  const fragmentInput = withRandom(mutated(fragments, true, 3), 800);
  const head = media.stream.subarray(0, media.init.length + fragments.reduce((n, f) => n + f.length, 0));
  return [
    bytesTarget('parseInit', initInput, parseInit),
    bytesTarget('parseFragment', fragmentInput, (bytes) => parseFragment(bytes, media.initInfo)),
    target(
      'Fmp4Splitter',
      fc.tuple(
        withRandom(mutated([head], true, 4), 800),
        fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 8 }),
      ),
      ([input, sizes]) => {
        const copy = input.slice();
        const splitter = new Fmp4Splitter({ maxBoxBytes: 1 << 20, maxUnitBytes: 1 << 21 });
        onlyTyped(() => {
          let at = 0;
          for (let i = 0; at < input.length; i++) {
            const size = sizes[i % sizes.length] ?? 1;
            splitter.push(input.subarray(at, at + size));
            at += size;
          }
          splitter.flush();
        }, isParseError);
        assertUnchanged(input, copy, 'the stream');
      },
    ),
    bytesTarget('tsConfigFromInit', initInput, tsConfigFromInit),
    target(
      'remuxSegmentToTs',
      fc.tuple(fragmentInput, fc.double({ min: -10, max: 100_000, noNaN: true })),
      ([segment, offsetSeconds]) => {
        const copy = segment.slice();
        onlyTyped(() => remuxSegmentToTs(config, segment, offsetSeconds), isParseError);
        assertUnchanged(segment, copy, 'the segment');
      },
    ),
  ];
}

/** Every fuzz target. `dir` is a temporary directory for ffmpeg's output (the caller removes it). */
export async function makeFuzzTargets(dir: string): Promise<FuzzTarget[]> {
  const rtp = loadRtp();
  const media = await makeFmp4(dir);
  return [
    bodyTarget('parseCreateChannel', parseCreateChannel, createChannelBodies),
    bodyTarget('parseCreateMultistreamChannel', parseCreateMultistreamChannel, multistreamBodies),
    bodyTarget('parseCreateMultistreamChannelWithHls', parseCreateMultistreamChannelWithHls, withHlsBodies),
    bodyTarget('parseLayout', (value) => parseLayout(value), layouts),
    signalingTarget(),
    requestHeadTarget(),
    bytesTarget('parseRtpPacket', rtpArbitrary(rtp), parseRtpPacket),
    bytesTarget('parseSenderReports', rtcpArbitrary(rtp), parseSenderReports),
    ...(['H264', 'VP8', 'VP9', 'opus'] as const).map((codec) => depacketizerTarget(codec, rtp)),
    ...fmp4Targets(media),
  ];
}
