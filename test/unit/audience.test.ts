/** The origin's audience counter: bytes add up; a viewer counts for ten seconds after its last request. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Audience } from '../../src/lib/audience.ts';

test('bytes add up over every request', () => {
  const audience = new Audience();
  audience.served(100, 'a', 0);
  audience.served(250, 'b', 1);
  audience.served(50, 'a', 2);
  assert.equal(audience.bytes, 400);
});

test('a viewer counts from its last request for ten seconds, then not', () => {
  const audience = new Audience();
  audience.served(1, '10.0.0.1 hls.js', 0);
  audience.served(1, '10.0.0.2 Safari', 4000);
  audience.served(1, '10.0.0.1 hls.js', 8000);
  assert.equal(audience.viewers(9000), 2);
  assert.equal(audience.viewers(14_000), 2, 'both seen within the last 10 s');
  assert.equal(audience.viewers(14_001), 1, 'the Safari viewer went quiet at 4 s');
  assert.equal(audience.viewers(18_001), 0);
});

test('many distinct viewers are counted, and forgotten once quiet', () => {
  const audience = new Audience();
  for (let i = 0; i < 5000; i++) audience.served(1, `viewer-${i}`, i);
  assert.equal(audience.viewers(5000), 5000);
  assert.equal(audience.viewers(12_000), 3000, 'those last seen before 2 s are gone');
  assert.equal(audience.viewers(100_000), 0);
});

test('bounded whatever clients send: long user agents are cut, and at most 10 000 viewers are kept', () => {
  const audience = new Audience();
  const longAgent = 'x'.repeat(16_000);
  for (let i = 0; i < 20_000; i++) audience.served(1, `10.0.${i >> 8}.${i & 255} ${longAgent}${i}`, 0);
  // Cut to 200 characters, every key is the same address prefix + agent: fewer distinct viewers than requests.
  assert.ok(audience.viewers(0) <= 10_000);
  for (let i = 0; i < 20_000; i++) audience.served(1, `viewer-${i}`, 1);
  assert.equal(audience.viewers(1), 10_000);
  assert.equal(audience.viewers(20_000), 0, 'all gone once quiet');
});

test("another counter's report adds its bytes and its viewers as last seen, forgetting those already quiet", () => {
  const audience = new Audience();
  audience.served(100, 'a', 1000);
  audience.merge(
    500,
    [
      ['a', 3000],
      ['b', 2500],
      ['c', 100],
    ],
    11_000,
  );
  assert.equal(audience.bytes, 600);
  assert.equal(audience.viewers(11_000), 2, 'c was last seen more than 10 s before the report');
  assert.equal(audience.viewers(12_600), 1, 'b went quiet at 2.5 s, a at 3 s');
  assert.equal(audience.viewers(13_001), 0);
});
