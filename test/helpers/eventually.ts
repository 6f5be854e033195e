/** Polling for end-to-end tests: what a live stream shows is reached, not scheduled. */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `probe` every 500 ms until it returns a value (errors count as not yet); throws after `timeoutMs`, naming
 * `what` and the last error.
 */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await sleep(500);
  }
}
