import type { HttpExchange } from '../http/http-exchange.ts';
import type { VariantPackager } from '../hls/variant-packager.ts';

export type WaitResult = 'ready' | 'timeout' | 'aborted';

/**
 * Waits until `ready()` holds for this packager (checked at once and on every change), the timeout passes, or the
 * client goes away before its answer. Only a request that waits listens for its client leaving: most are answered
 * at once, and an AbortController and listeners for each of them were a measurable share of a busy origin's time.
 * Listeners and timers are always released.
 */
export function waitFor(
  packager: VariantPackager,
  ready: () => boolean,
  timeoutMs: number,
  exchange: HttpExchange,
): Promise<WaitResult> {
  if (ready() || packager.ended) return Promise.resolve('ready');
  if (exchange.gone) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const finish = (result: WaitResult): void => {
      clearTimeout(timer);
      off();
      offGone();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish('timeout');
    }, timeoutMs);
    const off = packager.onChange(() => {
      if (ready() || packager.ended) finish('ready');
    });
    const offGone = exchange.onGone(() => {
      finish('aborted');
    });
  });
}
