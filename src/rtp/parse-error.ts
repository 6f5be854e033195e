/** Malformed input in protocol code: what was wrong and at which byte offset. */
export class ParseError extends Error {
  readonly reason: string;
  readonly offset: number;

  constructor(reason: string, offset: number) {
    super(`${reason} (at byte ${offset})`);
    this.name = 'ParseError';
    this.reason = reason;
    this.offset = offset;
  }
}
