/**
 * newSoraId: 128 random bits as 26 characters of Crockford Base32, like Sora's connection_id
 * (shared/SORA-PROTOCOL.md §4.1).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newSoraId } from '../../src/signaling/sora-id.ts';

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const count = 10_000;
const ids = Array.from({ length: count }, () => newSoraId());

describe('newSoraId', () => {
  test('is 26 characters of Crockford Base32 (no I, L, O or U)', () => {
    for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  test(`${count} ids are all distinct`, () => {
    assert.equal(new Set(ids).size, count);
  });

  test('the inner characters are uniformly spread over all 32 symbols', () => {
    // Positions 1..24 each carry 5 random bits whichever end the 2 padding bits go to: 240 000 symbols,
    // 7 500 expected per symbol with a standard deviation near 85, so ±8 % is about 7 sigma.
    const seen = new Map<string, number>();
    for (const id of ids) for (const char of id.slice(1, 25)) seen.set(char, (seen.get(char) ?? 0) + 1);
    const expected = (count * 24) / 32;
    for (const char of crockford) {
      const n = seen.get(char) ?? 0;
      assert.ok(
        Math.abs(n - expected) < expected * 0.08,
        `${char} appears ${n} times, expected about ${expected}`,
      );
    }
  });
});
