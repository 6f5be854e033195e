import type { IncomingMessage } from 'node:http';
import { NagareError } from '../errors.ts';

const tooLarge = (limitBytes: number): NagareError =>
  new NagareError('PayloadTooLarge', `the request body must be at most ${limitBytes} bytes`);

/**
 * Reads a request body of at most `limitBytes`. A declared Content-Length over the limit is refused before
 * anything is read; a chunked body is counted as it arrives and refused as soon as it passes the limit.
 */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limitBytes) throw tooLarge(limitBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
