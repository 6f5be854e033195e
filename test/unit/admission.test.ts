/** Admission decisions on plain numbers: what a new connection would add to the encoding, against the limits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission, variantsCost, type AdmissionState } from '../../src/channel/admission.ts';
import type { ChannelSpec, HlsVariant } from '../../src/channel/channel-spec.ts';
import { NagareError } from '../../src/errors.ts';
import type { ChannelRecord } from '../../src/store/channel-store.ts';

const variant = (width: number, height: number, fps: number): HlsVariant => ({
  video: { width, height, fps, bps: 1_000_000, codec: 'h264_high' },
  audio: { bps: 64_000 },
  durationSeconds: 2,
});

const record = (spec: ChannelSpec): ChannelRecord => ({
  channelId: 'c1',
  playlistId: 'p1',
  owner: 'o',
  createdAt: '2026-11-24T00:00:00.000Z',
  spec,
});

const limits = {
  maxChannels: 3,
  maxConnectionsPerChannel: 4,
  maxPublishersPerChannel: 2,
  transcodeBudget: 20_000_000,
};
const empty = { all: 0, sendrecv: 0, sendonly: 0 };

function admission(state: Partial<AdmissionState>): Admission {
  return new Admission(limits, {
    activeChannels: () => 0,
    encodingCost: () => 0,
    compositeRunning: () => false,
    ...state,
  });
}

test('a variant costs width × height × fps; a playlist the sum of its variants', () => {
  assert.equal(variantsCost([variant(640, 480, 30)]), 9_216_000);
  assert.equal(variantsCost([variant(640, 480, 30), variant(320, 240, 15)]), 9_216_000 + 1_152_000);
});

test('a composite adds its cost only when it is not already encoding', () => {
  const spec: ChannelSpec = { hls: [variant(640, 480, 30)], composite: true };
  // 12 M already encoding + 9.2 M > 20 M.
  assert.match(
    admission({ encodingCost: () => 12_000_000 }).refuseConnection(record(spec), 'sendonly', empty) ?? '',
    /^TRANSCODE-BUDGET-EXCEEDED/,
  );
  assert.equal(
    admission({ encodingCost: () => 10_000_000 }).refuseConnection(record(spec), 'sendonly', empty),
    undefined,
  );
  const running = admission({ encodingCost: () => 19_000_000, compositeRunning: () => true });
  assert.equal(
    running.refuseConnection(record(spec), 'sendrecv', { all: 1, sendrecv: 1, sendonly: 0 }),
    undefined,
  );
});

test('a playlist per publisher adds its cost for every publisher, composite or not', () => {
  const spec: ChannelSpec = { hls: [variant(640, 480, 30)], composite: false, perPublisher: true };
  const state = admission({ encodingCost: () => 10_784_000, compositeRunning: () => true });
  assert.equal(
    state.refuseConnection(record(spec), 'sendonly', empty),
    undefined,
    '10.784 + 9.216 = 20, not more',
  );
  const fuller = admission({ encodingCost: () => 10_784_001 });
  assert.match(fuller.refuseConnection(record(spec), 'sendonly', empty) ?? '', /^TRANSCODE-BUDGET-EXCEEDED/);
});

test('viewers cost nothing and pass every publisher limit; connections per channel count everyone', () => {
  const spec: ChannelSpec = { hls: [variant(1920, 1080, 60)], composite: true };
  const busy = admission({ encodingCost: () => 1e12 });
  assert.equal(
    busy.refuseConnection(record(spec), 'recvonly', { all: 3, sendrecv: 2, sendonly: 0 }),
    undefined,
  );
  assert.match(
    busy.refuseConnection(record(spec), 'recvonly', { all: 4, sendrecv: 0, sendonly: 0 }) ?? '',
    /^CHANNEL-FULL/,
  );
  assert.match(
    admission({}).refuseConnection(record({ hls: [] }), 'sendonly', { all: 2, sendrecv: 1, sendonly: 1 }) ??
      '',
    /^TOO-MANY-PUBLISHERS/,
  );
});

test('creation is refused with Unavailable once the server holds its maximum of channels', () => {
  assert.doesNotThrow(() => {
    admission({ activeChannels: () => 2 }).checkCreate();
  });
  assert.throws(
    () => {
      admission({ activeChannels: () => 3 }).checkCreate();
    },
    (err: unknown) => err instanceof NagareError && err.code === 'Unavailable' && err.status === 503,
  );
});
