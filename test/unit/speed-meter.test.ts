import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpeedMeter } from '../../src/lib/speed-meter.ts';

test('parts of 0.2 s every 200 ms run at speed 1; every 400 ms at 0.5', () => {
  const steady = new SpeedMeter(10_000);
  const slow = new SpeedMeter(10_000);
  for (let ms = 0; ms <= 20_000; ms += 200) steady.record(ms, 0.2);
  for (let ms = 0; ms <= 20_000; ms += 400) slow.record(ms, 0.2);
  assert.ok(Math.abs((steady.speed(20_000) ?? 0) - 1) < 0.03, `${steady.speed(20_000)}`);
  assert.ok(Math.abs((slow.speed(20_000) ?? 0) - 0.5) < 0.03, `${slow.speed(20_000)}`);
});

test('a producer that stops is seen slowing down, to 0 once the window has passed', () => {
  const meter = new SpeedMeter(10_000);
  for (let ms = 0; ms <= 10_000; ms += 200) meter.record(ms, 0.2);
  assert.ok((meter.speed(15_000) ?? 1) < 0.7, `${meter.speed(15_000)}`);
  meter.record(30_000, 0);
  assert.equal(meter.speed(41_000), 0);
});

test('nothing is said before a quarter of the window', () => {
  const meter = new SpeedMeter(10_000);
  assert.equal(meter.speed(0), undefined);
  meter.record(0, 0.2);
  meter.record(1000, 0.2);
  assert.equal(meter.speed(2000), undefined);
  assert.notEqual(meter.speed(2500), undefined);
});

test('after a long run, the speed is that of the last window', () => {
  const meter = new SpeedMeter(1000);
  for (let ms = 0; ms <= 1_000_000; ms += 10) meter.record(ms, 0.01);
  assert.ok(Math.abs((meter.speed(1_000_000) ?? 0) - 1) < 0.02);
});
