import { randomBytes } from 'node:crypto';

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A Sora-style id: 128 random bits as 26 characters of Crockford Base32, like Sora's connection_id and
 * session_id (a UUIDv4 in Base32; shared/SORA-PROTOCOL.md §4.1).
 */
export function newSoraId(): string {
  const bytes = randomBytes(16);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += crockford.charAt((value >>> bits) & 31);
    }
    value &= (1 << bits) - 1;
  }
  // 128 bits = 25 full characters + 3 bits left, padded to a 26th.
  out += crockford.charAt((value << (5 - bits)) & 31);
  return out;
}
