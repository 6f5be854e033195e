/**
 * SRTP session keys as node:crypto KeyObjects.
 *
 * werift keeps its SRTP and SRTCP session keys as Buffers and hands them to `createDecipheriv`/`createCipheriv`
 * (and, for AES_CM_128_HMAC_SHA1_80, to `createHmac`) for every packet: AES-GCM needs a new cipher for each
 * packet's IV. Node 24 checks a Buffer key several times slower than a KeyObject (measured on these machines: 40
 * against 10 µs to decrypt one 1.1 kB packet), and that check was a tenth of the server's CPU with four publishers.
 * So once werift has derived a transport's session keys, they are swapped for KeyObjects holding the same bytes.
 *
 * The swap touches only fields that are Buffers, each by name, and counts what it swapped: if a werift release
 * renames them, nothing changes but the speed, and `srtpKeysSwapped()` stays 0 (test/unit/srtp-keys.test.ts
 * checks it against a real connection).
 */
import { createSecretKey } from 'node:crypto';
import { RTCDtlsTransport } from 'werift';

/** The fields of werift's ciphers (CipherAesGcm, CipherAesCtr) that hold key material. */
const keyFields = ['srtpSessionKey', 'srtcpSessionKey', 'srtpSessionAuthTag', 'srtcpSessionAuthTag'] as const;

let swapped = 0;

/** How many session keys have been swapped for KeyObjects since the process started. */
export function srtpKeysSwapped(): number {
  return swapped;
}

/**
 * Swaps the Buffer keys of a transport's SRTP and SRTCP ciphers (local and remote) for KeyObjects; returns how
 * many it swapped. Anything not shaped as expected is left alone.
 */
export function useKeyObjects(transport: unknown): number {
  let count = 0;
  const record = transport as Record<string, unknown> | undefined;
  for (const session of [record?.['srtp'], record?.['srtcp']]) {
    const contexts = session as Record<string, unknown> | undefined;
    for (const context of [contexts?.['localContext'], contexts?.['remoteContext']]) {
      const cipher: unknown = (context as Record<string, unknown> | undefined)?.['cipher'];
      if (typeof cipher !== 'object' || cipher === null) continue;
      for (const field of keyFields) {
        const keys = cipher as Record<string, unknown>;
        const key = keys[field];
        if (!Buffer.isBuffer(key) || key.length === 0) continue;
        keys[field] = createSecretKey(key);
        count += 1;
      }
    }
  }
  swapped += count;
  return count;
}

let installed = false;

/**
 * From now on, every werift DTLS transport's SRTP keys become KeyObjects as soon as they are derived (werift
 * derives them in `updateSrtpSession`, at the end of the DTLS handshake). Idempotent.
 */
export function installSrtpKeyObjects(): void {
  if (installed) return;
  installed = true;
  const prototype = RTCDtlsTransport.prototype as unknown as Record<string, unknown>;
  const derive = prototype['updateSrtpSession'];
  if (typeof derive !== 'function') return;
  prototype['updateSrtpSession'] = function updateSrtpSession(this: unknown, ...args: unknown[]): unknown {
    const result: unknown = derive.apply(this, args);
    useKeyObjects(this);
    return result;
  };
}
