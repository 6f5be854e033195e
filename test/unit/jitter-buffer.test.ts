import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { JitterBuffer, type JitterBufferOptions, type JitterOutput } from '../../src/rtp/jitter-buffer.ts';
import type { RtpPacket } from '../../src/rtp/rtp-packet.ts';
import { SequenceUnwrapper, TimestampUnwrapper, seqDiff16, tsDiff32 } from '../../src/rtp/seq.ts';

const options: JitterBufferOptions = { maxWaitMs: 100, capacity: 64, resetThreshold: 3000 };

const packet = (sequenceNumber: number, timestamp = sequenceNumber * 3000): RtpPacket => ({
  payloadType: 102,
  sequenceNumber: sequenceNumber & 0xffff,
  timestamp: timestamp >>> 0,
  ssrc: 1,
  marker: false,
  payload: new Uint8Array([sequenceNumber & 0xff]),
});

const seqs = (outputs: JitterOutput[]): (number | string)[] =>
  outputs.map((o) =>
    o.type === 'packet' ? o.packet.sequenceNumber : o.type === 'lost' ? `lost ${o.count}` : 'reset',
  );

describe('wrapping arithmetic', () => {
  test('seqDiff16 and tsDiff32 give the signed distance across the wrap', () => {
    assert.equal(seqDiff16(2, 65534), 4);
    assert.equal(seqDiff16(65534, 2), -4);
    assert.equal(seqDiff16(100, 100), 0);
    assert.equal(tsDiff32(10, 2 ** 32 - 10), 20);
    assert.equal(tsDiff32(2 ** 32 - 10, 10), -20);
  });

  test('unwrappers count on past 16 and 32 bits, and place reordered values next to the previous ones', () => {
    const seq = new SequenceUnwrapper();
    assert.deepEqual(
      [65533, 65535, 65534, 0, 1].map((s) => seq.unwrap(s)),
      [65533, 65535, 65534, 65536, 65537],
    );
    const ts = new TimestampUnwrapper();
    assert.deepEqual(
      [2 ** 32 - 3000, 0, 2 ** 32 - 1500, 3000].map((t) => ts.unwrap(t)),
      [2 ** 32 - 3000, 2 ** 32, 2 ** 32 - 1500, 2 ** 32 + 3000],
    );
  });
});

describe('JitterBuffer', () => {
  test('releases in order, holding a packet that arrived early until the gap fills', () => {
    const buffer = new JitterBuffer(options);
    assert.deepEqual(seqs(buffer.push(packet(10), 0)), [10]);
    assert.deepEqual(seqs(buffer.push(packet(12), 5)), []);
    assert.deepEqual(seqs(buffer.push(packet(11), 8)), [11, 12]);
    assert.equal(buffer.stats().recovered, 1);
  });

  test('declares a gap lost once the packet after it has waited maxWaitMs, in band before that packet', () => {
    const buffer = new JitterBuffer(options);
    buffer.push(packet(1), 0);
    assert.deepEqual(seqs(buffer.push(packet(4), 10)), []);
    assert.equal(buffer.nextDeadlineMs(), 110);
    assert.deepEqual(seqs(buffer.poll(109)), []);
    assert.deepEqual(seqs(buffer.poll(110)), ['lost 2', 4]);
    assert.equal(buffer.stats().lost, 2);
    // The lost packets arriving afterwards are late, not released.
    assert.deepEqual(seqs(buffer.push(packet(2), 120)), []);
    assert.equal(buffer.stats().late, 1);
  });

  test('drops duplicates, held or already released', () => {
    const buffer = new JitterBuffer(options);
    buffer.push(packet(1), 0);
    buffer.push(packet(3), 1);
    assert.deepEqual(seqs(buffer.push(packet(3), 2)), []);
    assert.deepEqual(seqs(buffer.push(packet(1), 3)), []);
    assert.deepEqual(buffer.stats().duplicates + buffer.stats().late, 2);
  });

  test('keeps order across the 16-bit sequence wrap', () => {
    const buffer = new JitterBuffer(options);
    const out = [65534, 0, 65535, 1].flatMap((s, i) => buffer.push(packet(s), i));
    assert.deepEqual(seqs(out), [65534, 65535, 0, 1]);
  });

  test('a sender restart (a jump past resetThreshold) resets instead of waiting for thousands of packets', () => {
    const buffer = new JitterBuffer(options);
    buffer.push(packet(100), 0);
    assert.deepEqual(seqs(buffer.push(packet(40_000), 1)), ['reset', 40_000]);
    assert.deepEqual(seqs(buffer.push(packet(40_001), 2)), [40_001]);
    assert.equal(buffer.stats().resets, 1);
  });

  test('holds at most `capacity` packets: past it the oldest gap is given up at once', () => {
    const buffer = new JitterBuffer({ ...options, capacity: 4 });
    buffer.push(packet(0), 0);
    const out = [2, 3, 4, 5, 6].flatMap((s) => buffer.push(packet(s), 1));
    assert.deepEqual(seqs(out), ['lost 1', 2, 3, 4, 5, 6]);
    assert.ok(buffer.stats().held <= 4);
  });

  test('memory stays bounded under a sender that only ever skips', () => {
    const buffer = new JitterBuffer(options);
    for (let i = 0; i < 20_000; i++) buffer.push(packet(i * 7), i);
    const stats = buffer.stats();
    assert.ok(stats.held <= options.capacity, `held ${stats.held}`);
    assert.ok(stats.missing <= 512, `missing ${stats.missing}`);
  });

  test('property: any reordering, duplication and loss within the wait gives packets in order, each once, every loss reported', () => {
    const scenario = fc.record({
      start: fc.integer({ min: 0, max: 65535 }),
      tsStart: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      count: fc.integer({ min: 2, max: 300 }),
      lossRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
      dupRate: fc.double({ min: 0, max: 0.2, noNaN: true }),
      jitter: fc.integer({ min: 0, max: 8 }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(scenario, ({ start, tsStart, count, lossRate, dupRate, jitter, seed }) => {
        let state = seed >>> 0 || 1;
        const random = (): number => {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          return state / 2 ** 32;
        };
        // Packet i is sent at 10 i ms and arrives up to `jitter` packet intervals late (below maxWaitMs).
        const arrivals: { index: number; at: number }[] = [{ index: 0, at: 0 }];
        for (let index = 1; index < count; index++) {
          if (random() < lossRate) continue;
          const at = index * 10 + Math.floor(random() * jitter) * 10;
          arrivals.push({ index, at });
          if (random() < dupRate) arrivals.push({ index, at: at + 3 });
        }
        arrivals.sort((a, b) => a.at - b.at || a.index - b.index);
        const buffer = new JitterBuffer({ ...options, capacity: 1000 });
        const out: JitterOutput[] = [];
        for (const { index, at } of arrivals) {
          out.push(...buffer.push(packet(start + index, tsStart + index * 3000), at));
        }
        out.push(...buffer.poll(count * 10 + 1000));

        const released = out.flatMap((o) => (o.type === 'packet' ? [o] : []));
        const received = new Set(arrivals.map((a) => a.index));
        assert.equal(released.length, received.size, 'every received packet once');
        let expected = start;
        let lastTime = Number.NEGATIVE_INFINITY;
        for (const o of out) {
          if (o.type === 'lost') {
            assert.equal(o.firstExtendedSeq, expected);
            expected += o.count;
          } else if (o.type === 'packet') {
            assert.equal(o.extendedSeq, expected, 'in order with no unreported hole');
            assert.ok(o.rtpTime > lastTime, 'RTP time monotonic across the wrap');
            lastTime = o.rtpTime;
            expected += 1;
          } else {
            assert.fail('no reset expected');
          }
        }
        const lost = out.reduce((n, o) => n + (o.type === 'lost' ? o.count : 0), 0);
        assert.equal(
          lost,
          Math.max(...received) + 1 - received.size,
          'every loss before the last packet reported',
        );
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
