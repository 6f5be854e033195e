/**
 * WebSocket close codes of the signaling endpoint. 1000 is an orderly end (client disconnect, API disconnect,
 * channel deleted): the SDK reports it as a normal SHUTDOWN. Rejections and faults use 4xxx with a readable
 * reason, which the SDK surfaces as ConnectError.code / .reason (shared/SORA-PROTOCOL.md §7).
 */
export const closeCodes = {
  normal: 1000,
  goingAway: 1001,
  badMessage: 4400,
  unauthorized: 4401,
  channelNotFound: 4404,
  timeout: 4408,
  unsupported: 4415,
  tooManyMessages: 4429,
  internalError: 4490,
  unavailable: 4503,
} as const;

/** WebSocket close reasons are limited to 123 bytes of UTF-8. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= 123) return text;
  // Cut before a UTF-8 continuation byte (10xxxxxx) so no character is split.
  let cut = 120;
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return `${bytes.subarray(0, cut).toString('utf8')}...`;
}
