import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestIds } from '../../src/lib/request-ids.ts';

test('request ids are 16 hex digits, never repeat within a process, and differ between processes', () => {
  const ids = new RequestIds();
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const id = ids.next();
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.ok(!seen.has(id), `${id} repeated`);
    seen.add(id);
  }
  const other = new RequestIds();
  assert.notEqual(other.next().slice(0, 8), ids.next().slice(0, 8), 'two processes share a prefix');
});
