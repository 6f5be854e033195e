/**
 * The auth webhook of a channel (Sora's auth_webhook_url, shared/SORA-PROTOCOL.md §8): POST a Sora-shaped JSON
 * body, and allow the connection only on an HTTP 200 whose JSON says `allowed: true`. Anything else — a refusal,
 * another status, bad JSON, no answer within the timeout — refuses, with a reason the client is told.
 */
import { fetch, type Response } from 'undici';
import { webhookDispatcher } from '../lib/webhook-target.ts';

export type AuthDecision =
  | { allowed: true; metadata?: unknown; clientId?: string; bundleId?: string; notifyMetadata?: unknown }
  | { allowed: false; reason: string };

const maxAnswerBytes = 64 * 1024;

async function readLimited(response: Response): Promise<string> {
  const body = response.body as ReadableStream<Uint8Array> | null;
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxAnswerBytes) {
      await reader.cancel();
      throw new Error('answer too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function interpretAuthAnswer(status: number, text: string): AuthDecision {
  if (status !== 200) return { allowed: false, reason: `auth webhook answered HTTP ${status}` };
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return { allowed: false, reason: 'auth webhook answer is not JSON' };
  }
  if (typeof answer !== 'object' || answer === null)
    return { allowed: false, reason: 'auth webhook answer is not an object' };
  const record = answer as Record<string, unknown>;
  if (record['allowed'] !== true) {
    const reason =
      typeof record['reason'] === 'string' && record['reason'] !== '' ? record['reason'] : 'not allowed';
    return { allowed: false, reason };
  }
  const decision: AuthDecision = { allowed: true };
  if (record['metadata'] !== undefined) decision.metadata = record['metadata'];
  if (typeof record['client_id'] === 'string' && record['client_id'] !== '')
    decision.clientId = record['client_id'];
  if (typeof record['bundle_id'] === 'string' && record['bundle_id'] !== '')
    decision.bundleId = record['bundle_id'];
  if (record['signaling_notify_metadata'] !== undefined)
    decision.notifyMetadata = record['signaling_notify_metadata'];
  return decision;
}

export async function askAuthWebhook(
  url: string,
  body: Record<string, unknown>,
  connectionId: string,
  timeoutMs: number,
  allowPrivate: boolean,
): Promise<AuthDecision> {
  try {
    const response = await fetch(url, {
      dispatcher: webhookDispatcher(allowPrivate),
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'sora-connection-id': connectionId },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    return interpretAuthAnswer(response.status, await readLimited(response));
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return {
      allowed: false,
      reason: timedOut ? 'auth webhook did not answer in time' : 'auth webhook unreachable',
    };
  }
}
