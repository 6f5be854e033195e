import type { ServerResponse } from 'node:http';
import type { VariantPackager } from '../hls/variant-packager.ts';

export type WaitResult = 'ready' | 'timeout' | 'aborted';

/**
 * Whether a request's client went away before its answer. It listens to the response only once a wait asks: most
 * requests are answered at once, and an AbortController and a listener for each of them were a measurable share
 * of a busy origin's time.
 */
export class ClientGone {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  get gone(): boolean {
    return this.#res.destroyed && !this.#res.writableFinished;
  }

  /** Calls `onGone` if the client goes before its answer; returns what stops listening. */
  listen(onGone: () => void): () => void {
    const res = this.#res;
    const onClose = (): void => {
      if (!res.writableFinished) onGone();
    };
    res.once('close', onClose);
    return () => res.off('close', onClose);
  }
}

/**
 * Waits until `ready()` holds for this packager (checked at once and on every change), the timeout passes, or the
 * client goes away. Listeners and timers are always released.
 */
export function waitFor(
  packager: VariantPackager,
  ready: () => boolean,
  timeoutMs: number,
  client: ClientGone,
): Promise<WaitResult> {
  if (ready() || packager.ended) return Promise.resolve('ready');
  if (client.gone) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const finish = (result: WaitResult): void => {
      clearTimeout(timer);
      off();
      stopListening();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish('timeout');
    }, timeoutMs);
    const off = packager.onChange(() => {
      if (ready() || packager.ended) finish('ready');
    });
    const stopListening = client.listen(() => {
      finish('aborted');
    });
  });
}
