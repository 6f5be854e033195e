import type { VariantPackager } from '../hls/variant-packager.ts';

export type WaitResult = 'ready' | 'timeout' | 'aborted';

/**
 * Waits until `ready()` holds for this packager (checked at once and on every change), the timeout passes, or the
 * client goes away. Listeners and timers are always released.
 */
export function waitFor(
  packager: VariantPackager,
  ready: () => boolean,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<WaitResult> {
  if (ready() || packager.ended) return Promise.resolve('ready');
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const finish = (result: WaitResult): void => {
      clearTimeout(timer);
      off();
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = (): void => {
      finish('aborted');
    };
    const timer = setTimeout(() => {
      finish('timeout');
    }, timeoutMs);
    const off = packager.onChange(() => {
      if (ready() || packager.ended) finish('ready');
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
