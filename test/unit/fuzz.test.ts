/**
 * Every parser fuzzed briefly (test/helpers/fuzz-properties.ts holds the properties; bench/fuzz.ts runs them at
 * 100 000 cases each): success or the parser's own typed error, the input never modified, no case slow.
 * Properties already tested next to a parser (random depacketizer payloads, random signaling JSON, single-byte
 * fMP4 mutations) are not repeated here; these feed mutated valid inputs through the public entry points.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeFuzzTargets, type FuzzTarget } from '../helpers/fuzz-properties.ts';

/** Cases per parser: enough to pass the first checks of each, small enough for the whole file to take seconds. */
const casesPerParser = 400;
const seed = 20261124;

const dir = await mkdtemp(join(tmpdir(), 'nagare-fuzz-'));
let targets: FuzzTarget[] = [];

describe('fuzzed parsers throw only their own typed error and never modify their input (seeded)', () => {
  before(async () => {
    targets = await makeFuzzTargets(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('every parser is fuzzed', async (t) => {
    assert.ok(targets.length >= 16, `${targets.length} targets`);
    for (const target of targets) {
      await t.test(target.name, target.knownBug === undefined ? {} : { todo: target.knownBug }, () => {
        const outcome = target.run(casesPerParser, seed);
        assert.equal(outcome.failed, false, outcome.report);
        assert.equal(outcome.cases, casesPerParser);
      });
    }
  });
});
