/**
 * fMP4 reading of malformed input: literal-byte cases with the ParseError reason and stream offset, then seeded
 * property tests that mutate real ffmpeg output (or feed random bytes) and accept only units or a ParseError,
 * never another exception, and never a change to the caller's bytes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Fmp4Splitter, parseFragment, parseInit, type InitInfo } from '../../src/hls/format/fmp4-reader.ts';
import { ParseError } from '../../src/rtp/parse-error.ts';
import { ascii, box, concat, makeFixture, topLevelBoxes, u32, u64 } from '../helpers/fmp4-fixtures.ts';

let dir = '';
let stream: Uint8Array = new Uint8Array();
let initBytes: Uint8Array = new Uint8Array();
let fragmentBytes: Uint8Array = new Uint8Array();
let init: InitInfo = { tracks: [] };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nagare-fmp4-bad-'));
  const { bytes } = await makeFixture(dir, { name: 'main', profile: 'main', fragDurationUs: 500000 });
  stream = bytes;
  const [ftyp, moov, moof, mdat] = topLevelBoxes(bytes);
  initBytes = bytes.slice(0, moov!.start + moov!.size);
  fragmentBytes = bytes.slice(moof!.start, mdat!.start + mdat!.size);
  assert.equal(ftyp?.type, 'ftyp');
  init = parseInit(initBytes);
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const ftyp = box('ftyp', ascii('iso6'), u32(512), ascii('iso6cmfc'));

/** Pushes the chunks and flushes; returns the ParseError thrown, failing on any other outcome. */
const splitError = (...chunks: readonly Uint8Array[]): ParseError => {
  const splitter = new Fmp4Splitter();
  try {
    for (const chunk of chunks) splitter.push(chunk);
    splitter.flush();
  } catch (error) {
    assert.ok(error instanceof ParseError, `not a ParseError: ${String(error)}`);
    assert.throws(() => splitter.push(new Uint8Array(1)), ParseError, 'the splitter stays failed');
    return error;
  }
  return assert.fail('no ParseError');
};

describe('Fmp4Splitter rejects malformed streams with ParseError', () => {
  const cases: readonly { name: string; chunks: () => Uint8Array[]; reason: RegExp; offset: () => number }[] =
    [
      {
        name: 'a box size smaller than its header',
        chunks: () => [concat(u32(4), ascii('ftyp'))],
        reason: /size 4, smaller than its 8-byte header/,
        offset: () => 0,
      },
      {
        name: 'a largesize smaller than its 16-byte header',
        chunks: () => [concat(u32(1), ascii('ftyp'), u64(15n))],
        reason: /smaller than its 16-byte header/,
        offset: () => 0,
      },
      {
        name: 'size 0 (to end of file) in a stream',
        chunks: () => [concat(ftyp, u32(0), ascii('moov'))],
        reason: /size 0/,
        offset: () => ftyp.length,
      },
      {
        name: 'a header declaring more than 64 MiB, refused before the bytes arrive',
        chunks: () => [concat(initBytes, u32(0x04000001), ascii('moof'))],
        reason: /declares 67108865 bytes, more than the 67108864 allowed/,
        offset: () => initBytes.length,
      },
      {
        name: 'a 64-bit largesize of 2^40',
        chunks: () => [concat(ftyp, u32(1), ascii('mdat'), u64(2n ** 40n))],
        reason: /more than the 67108864 allowed/,
        offset: () => ftyp.length,
      },
      {
        name: 'a stream that does not start with ftyp',
        chunks: () => [box('moov')],
        reason: /starts with 'moov', not 'ftyp'/,
        offset: () => 0,
      },
      {
        name: 'a moof before any moov',
        chunks: () => [ftyp, fragmentBytes],
        reason: /'moof' before 'moov'/,
        offset: () => ftyp.length,
      },
      {
        name: 'an mdat before any moof',
        chunks: () => [initBytes, box('mdat')],
        reason: /'mdat' before any 'moof'/,
        offset: () => initBytes.length,
      },
      {
        name: 'a moof followed by another moof',
        chunks: () => [
          initBytes,
          fragmentBytes.subarray(0, topLevelBoxes(fragmentBytes)[1]!.start),
          fragmentBytes,
        ],
        reason: /'moof' without its 'mdat'/,
        offset: () => initBytes.length + topLevelBoxes(fragmentBytes)[1]!.start,
      },
      {
        name: 'a second init after fragments',
        chunks: () => [initBytes, fragmentBytes, initBytes],
        reason: /'ftyp' after fragments: a new stream needs a new splitter/,
        offset: () => initBytes.length + fragmentBytes.length,
      },
      {
        name: 'a top-level type that is not a four-character code',
        chunks: () => [initBytes, concat(u32(8), Uint8Array.of(0, 1, 2, 3))],
        reason: /is not a four-character code/,
        offset: () => initBytes.length,
      },
      {
        name: 'a stream truncated inside an mdat',
        chunks: () => [stream.subarray(0, initBytes.length + fragmentBytes.length - 100)],
        reason: /stream ended with \d+ bytes of an unfinished unit/,
        offset: () => initBytes.length,
      },
      {
        name: 'a moof whose trun claims more samples than it holds (offset in the stream)',
        chunks: () => [initBytes, withTrunSampleCount(fragmentBytes, 0xffffffff)],
        reason: /trun declares 4294967295 samples/,
        offset: () => initBytes.length + trunAt(fragmentBytes) + 12,
      },
    ];
  for (const { name, chunks, reason, offset } of cases) {
    test(name, () => {
      const input = chunks();
      const copies = input.map((chunk) => chunk.slice());
      const error = splitError(...input);
      assert.match(error.reason, reason);
      assert.equal(error.offset, offset());
      assert.deepEqual(input, copies, 'input unchanged');
    });
  }
});

/** Offset of the first 'trun' box in `bytes` (ffmpeg: inside the first traf). */
const trunAt = (bytes: Uint8Array): number => {
  for (let at = 4; at + 4 <= bytes.length; at++) {
    if (String.fromCharCode(...bytes.subarray(at, at + 4)) === 'trun') return at - 4;
  }
  throw new Error('no trun');
};

const withTrunSampleCount = (bytes: Uint8Array, count: number): Uint8Array => {
  const copy = bytes.slice();
  copy.set(u32(count), trunAt(copy) + 12);
  return copy;
};

describe('parseInit and parseFragment reject malformed units with ParseError', () => {
  const cases: readonly { name: string; parse: () => unknown; reason: RegExp }[] = [
    { name: 'no moov', parse: () => parseInit(ftyp), reason: /missing 'moov'/ },
    { name: 'a fragment given as init', parse: () => parseInit(fragmentBytes), reason: /missing 'moov'/ },
    { name: 'a truncated init', parse: () => parseInit(initBytes.subarray(0, 600)), reason: /.+/ },
    { name: 'no moof', parse: () => parseFragment(initBytes, init), reason: /missing 'moof'/ },
    {
      name: 'a track the init does not have',
      parse: () => parseFragment(fragmentBytes, { tracks: init.tracks.slice(1) }),
      reason: /traf for track 1, not in the init/,
    },
    {
      name: 'a tfdt of 2^53 or more',
      parse: () =>
        parseFragment(
          box(
            'moof',
            box('mfhd', u32(0), u32(1)),
            box('traf', box('tfhd', u32(0), u32(1)), box('tfdt', u32(0x01000000), u64(2n ** 53n))),
          ),
          init,
        ),
      reason: /does not fit in 53 bits/,
    },
    {
      name: 'a traf without tfdt',
      parse: () =>
        parseFragment(
          box('moof', box('mfhd', u32(0), u32(1)), box('traf', box('tfhd', u32(0), u32(1)))),
          init,
        ),
      reason: /has no 'tfdt'/,
    },
    {
      name: 'a child box running past its parent',
      parse: () => parseFragment(box('moof', concat(u32(64), ascii('mfhd'), u32(0), u32(1))), init),
      reason: /box 'mfhd' declares 64 bytes, only 16 remain/,
    },
  ];
  for (const { name, parse, reason } of cases) {
    test(name, () => {
      const initCopy = initBytes.slice();
      const fragmentCopy = fragmentBytes.slice();
      assert.throws(parse, (error: unknown) => error instanceof ParseError && reason.test(error.reason));
      assert.deepEqual(initBytes, initCopy);
      assert.deepEqual(fragmentBytes, fragmentCopy);
    });
  }
});

/** Runs `work`; a ParseError is an accepted outcome, anything else thrown fails the property. */
const onlyParseErrors = (work: () => void): void => {
  try {
    work();
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
  }
};

describe('mutated and random input only ever throws ParseError (property, seeded)', () => {
  const mutation = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });
  const mutate = (bytes: Uint8Array, edits: readonly { at: number; value: number }[], range: number) => {
    const copy = bytes.slice();
    for (const { at, value } of edits) copy[at % Math.min(range, copy.length)] = value;
    return copy;
  };

  test('Fmp4Splitter on a stream whose init and first moofs are corrupted, in random chunks', () => {
    const head = stream.subarray(0, initBytes.length + 3 * fragmentBytes.length);
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 4096 }),
        (edits, size) => {
          const input = mutate(head, edits, initBytes.length + 400);
          const copy = input.slice();
          const splitter = new Fmp4Splitter();
          onlyParseErrors(() => {
            for (let at = 0; at < input.length; at += size) splitter.push(input.subarray(at, at + size));
            splitter.flush();
          });
          assert.deepEqual(input, copy);
        },
      ),
      { seed: 23000, numRuns: 400 },
    );
  });

  test('parseInit and parseFragment on corrupted units', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), (edits) => {
        onlyParseErrors(() => parseInit(mutate(initBytes, edits, initBytes.length)));
        onlyParseErrors(() => parseFragment(mutate(fragmentBytes, edits, 400), init));
      }),
      { seed: 23001, numRuns: 1000 },
    );
  });

  test('random bytes, with and without a valid ftyp in front', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, withFtyp) => {
        const splitter = new Fmp4Splitter();
        onlyParseErrors(() => {
          splitter.push(withFtyp ? concat(ftyp, bytes) : bytes);
          splitter.flush();
        });
        onlyParseErrors(() => parseInit(bytes));
        onlyParseErrors(() => parseFragment(bytes, init));
      }),
      { seed: 23002, numRuns: 1000 },
    );
  });
});
