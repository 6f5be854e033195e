/**
 * Bearer-token authentication for the API. Tokens are compared as SHA-256 digests with
 * `timingSafeEqual`, against every configured token without an early exit, so the time taken says
 * nothing about which token, or how much of one, matched. Channels store the digest as their owner.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function tokenOwner(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class TokenAuthenticator {
  readonly #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map((token) => Buffer.from(tokenOwner(token), 'hex'));
  }

  /** The owner id for an `Authorization: Bearer <token>` header, or undefined when it is missing or wrong. */
  authenticate(authorization: string | undefined): string | undefined {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    const presented = createHash('sha256')
      .update(match?.[1] ?? '', 'utf8')
      .digest();
    let matched = false;
    for (const digest of this.#digests) {
      // Non-short-circuiting OR keeps the work the same whichever token matches.
      matched = timingSafeEqual(presented, digest) || matched;
    }
    return matched && match !== null ? presented.toString('hex') : undefined;
  }
}
