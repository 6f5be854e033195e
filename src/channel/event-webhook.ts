/**
 * The event webhook of a channel (ImageFlux's `event_webhook_url`): a JSON POST per event: Sora's
 * `connection.created` / `connection.destroyed` (shared/SORA-PROTOCOL.md §8) and ImageFlux's
 * `{"type":"notify.playlist_url","channel_id","connection_id","timestamp","playlist_url"}`. Delivery is tried
 * three times (0, 1 and 3 s later) with a 5 s timeout each; any 2xx answer is success. Failures are logged and
 * counted, never thrown: a receiver that is down harms nothing else.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { fetch } from 'undici';
import { refuseWebhookTarget, webhookDispatcher } from '../lib/webhook-target.ts';
import { version } from '../version.ts';

export interface EventWebhookStats {
  sent: number;
  failed: number;
}

const retryDelaysMs = [0, 1000, 3000];

/** Sora's webhook envelope around an event: `id`, `timestamp`, `version`, `label`, `node_name`. */
export function soraEnvelope(event: Record<string, unknown>, now = new Date()): Record<string, unknown> {
  return {
    ...event,
    id: randomBytes(16).toString('hex'),
    timestamp: now.toISOString(),
    version: `Nagare ${version}`,
    label: 'Nagare',
    node_name: hostname(),
  };
}

export class EventWebhook {
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #allowPrivate: boolean;
  readonly #stats: EventWebhookStats = { sent: 0, failed: 0 };

  /** `allowPrivate`: whether receivers on loopback, private or link-local addresses may be called. */
  constructor(log: Logger, timeoutMs = 5000, allowPrivate = false) {
    this.#log = log;
    this.#timeoutMs = timeoutMs;
    this.#allowPrivate = allowPrivate;
  }

  stats(): EventWebhookStats {
    return { ...this.#stats };
  }

  /** Delivers `event` to `url`; resolves to whether a receiver took it. */
  async post(url: string, event: Record<string, unknown>): Promise<boolean> {
    const refused = await refuseWebhookTarget(url, this.#allowPrivate);
    if (refused !== undefined) {
      this.#stats.failed += 1;
      this.#log.warn({ url, type: event['type'], error: refused }, 'event webhook not called');
      return false;
    }
    let lastError = '';
    for (const delayMs of retryDelaysMs) {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(this.#timeoutMs),
          redirect: 'error',
          dispatcher: webhookDispatcher(this.#allowPrivate),
        });
        await response.body?.cancel();
        if (response.ok) {
          this.#stats.sent += 1;
          return true;
        }
        lastError = `HTTP ${response.status}`;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
    }
    this.#stats.failed += 1;
    this.#log.warn({ url, type: event['type'], error: lastError }, 'event webhook not delivered');
    return false;
  }
}
