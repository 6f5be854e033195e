/**
 * Feeds a depacketizer a script of packets and losses, checks what must hold for every packet (the input is
 * unchanged, nothing throws, frames carry the right kind and timescale), and returns what came out in a form
 * that compares well in a table: frames as { ts, key, data: 'hex' }, requests as 'keyframe-needed'.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Depacketizer, DepacketizerOutput, DepacketizerStats } from '../../src/rtp/encoded-frame.ts';

/** A packet (payload as spaced hex or bytes, RTP time, marker) or a loss reported just before the next one. */
export type Step = { payload: string | Uint8Array; ts: number; marker?: boolean } | 'lose';
export type Seen = { ts: number; key: boolean; data: string } | 'keyframe-needed';

export interface Run {
  seen: Seen[];
  reasons: string[];
  stats: DepacketizerStats;
  outputs: DepacketizerOutput[];
}

/** '00 00 01 67' (spaces optional) → bytes. */
export function hex(text: string): Uint8Array<ArrayBuffer> {
  const digits = text.replace(/\s+/g, '');
  assert.equal(digits.length % 2, 0, `odd hex string ${text}`);
  const bytes = new Uint8Array(digits.length / 2);
  for (let index = 0; index < bytes.length; index += 1) {
    bytes[index] = Number.parseInt(digits.slice(index * 2, index * 2 + 2), 16);
  }
  return bytes;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

export function run(depacketizer: Depacketizer, steps: readonly Step[]): Run {
  const outputs: DepacketizerOutput[] = [];
  for (const step of steps) {
    if (step === 'lose') {
      outputs.push(...depacketizer.lose());
      continue;
    }
    const payload = typeof step.payload === 'string' ? hex(step.payload) : step.payload;
    const before = payload.slice();
    outputs.push(...depacketizer.push(payload, step.ts, step.marker ?? false));
    assert.deepEqual(payload, before, 'push must not modify the payload');
  }
  const seen: Seen[] = [];
  const reasons: string[] = [];
  for (const output of outputs) {
    if (output.type === 'keyframe-needed') {
      seen.push('keyframe-needed');
      reasons.push(output.reason);
      continue;
    }
    const { frame } = output;
    const isAudio = depacketizer.codec === 'opus';
    assert.equal(frame.codec, depacketizer.codec);
    assert.equal(frame.kind, isAudio ? 'audio' : 'video');
    assert.equal(frame.timescale, isAudio ? 48000 : 90000);
    seen.push({ ts: frame.rtpTime, key: frame.keyframe, data: toHex(frame.data) });
  }
  return { seen, reasons, stats: depacketizer.stats(), outputs };
}

/** A frame as `run` reports it, with the data given as spaced hex. */
export function frame(ts: number, key: boolean, data: string): Seen {
  return { ts, key, data: toHex(hex(data)) };
}

/** Splits `total` into chunks whose sizes are taken in turn from `sizes` (each at least 1), the last one short. */
export function chunkSizes(total: number, sizes: readonly number[]): number[] {
  const out: number[] = [];
  let left = total;
  let index = 0;
  while (left > 0) {
    const size = Math.max(1, Math.min(left, sizes[index % sizes.length] ?? left));
    out.push(size);
    left -= size;
    index += 1;
  }
  return out;
}

/**
 * Random scripts of losses and packets at a few RTP times; half the payloads begin with one of `firstBytes`
 * (descriptor or NAL header bytes that reach deeper into the parser), the others are any bytes at all.
 */
export function arbitrarySteps(firstBytes: readonly number[]): fc.Arbitrary<Step[]> {
  const ts = fc.constantFrom(0, 3000, 6000);
  const step = fc.oneof(
    fc.constant<Step>('lose'),
    fc
      .record({
        first: fc.constantFrom(...firstBytes),
        rest: fc.uint8Array({ maxLength: 24 }),
        ts,
        marker: fc.boolean(),
      })
      .map(({ first, rest, ts: time, marker }): Step => ({
        payload: Uint8Array.of(first, ...rest),
        ts: time,
        marker,
      })),
    fc.record({ payload: fc.uint8Array({ maxLength: 24 }), ts, marker: fc.boolean() }),
  );
  return fc.array(step, { maxLength: 40 });
}

/** Runs a script (so nothing throws and no input changes) and checks the counters agree with the outputs. */
export function checkCounters(depacketizer: Depacketizer, steps: readonly Step[]): void {
  const result = run(depacketizer, steps);
  assert.equal(result.stats.frames, result.outputs.filter((output) => output.type === 'frame').length);
  assert.equal(result.stats.packets, steps.filter((item) => item !== 'lose').length);
}

/** One row of a table: a script, what must come out, and the counters that must match (the others are free). */
export interface Case {
  name: string;
  steps: Step[];
  seen: Seen[];
  stats?: Partial<DepacketizerStats>;
}

/** One test per row, each on a fresh depacketizer. */
export function testCases(create: () => Depacketizer, cases: readonly Case[]): void {
  for (const { name, steps, seen, stats } of cases) {
    test(name, () => {
      const result = run(create(), steps);
      assert.deepEqual(result.seen, seen);
      if (stats !== undefined) assert.deepEqual({ ...result.stats, ...stats }, result.stats);
    });
  }
}
