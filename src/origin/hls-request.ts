/**
 * The HLS paths the origin serves, parsed exactly (no URL normalisation, no filesystem): anything else is unknown.
 *
 *   /hls/<playlist id>/index.m3u8                        multivariant playlist
 *   /hls/<playlist id>/<run>/v<i>/index.m3u8             media playlist (LL-HLS query parameters)
 *   /hls/<playlist id>/<run>/v<i>/init<n>.mp4            init segment
 *   /hls/<playlist id>/<run>/v<i>/<msn>.m4s              segment
 *   /hls/<playlist id>/<run>/v<i>/<msn>.<part>.m4s       part
 *   /hls/<playlist id>/ts.m3u8                           multivariant playlist of MPEG-TS variants
 *   /hls/<playlist id>/<run>/v<i>/ts.m3u8                MPEG-TS media playlist (plain HLS, no parts)
 *   /hls/<playlist id>/<run>/v<i>/<msn>.ts               MPEG-TS segment
 */

export type HlsResource =
  | { type: 'multivariant'; playlistId: string; ts: boolean }
  | { type: 'ts-media'; playlistId: string; run: string; variant: number }
  | { type: 'ts-segment'; playlistId: string; run: string; variant: number; msn: number }
  | { type: 'media'; playlistId: string; run: string; variant: number }
  | { type: 'init'; playlistId: string; run: string; variant: number; initId: number }
  | { type: 'segment'; playlistId: string; run: string; variant: number; msn: number }
  | { type: 'part'; playlistId: string; run: string; variant: number; msn: number; part: number };

const pattern =
  /^\/hls\/([0-9a-f]{32})\/(?:(index|ts)\.m3u8|([0-9a-f]{8})\/v(\d{1,2})\/(?:(index|ts)\.m3u8|init(\d{1,6})\.mp4|(\d{1,9})\.m4s|(\d{1,9})\.(\d{1,4})\.m4s|(\d{1,9})\.ts))$/;

export function parseHlsPath(path: string): HlsResource | undefined {
  const match = pattern.exec(path);
  if (match === null) return undefined;
  const [, playlistId = '', top, run, variantText, media, init, segment, partMsn, part, tsSegment] = match;
  if (run === undefined || variantText === undefined)
    return { type: 'multivariant', playlistId, ts: top === 'ts' };
  const variant = Number(variantText);
  if (media === 'index') return { type: 'media', playlistId, run, variant };
  if (media === 'ts') return { type: 'ts-media', playlistId, run, variant };
  if (tsSegment !== undefined)
    return { type: 'ts-segment', playlistId, run, variant, msn: Number(tsSegment) };
  if (init !== undefined) return { type: 'init', playlistId, run, variant, initId: Number(init) };
  if (segment !== undefined) return { type: 'segment', playlistId, run, variant, msn: Number(segment) };
  return { type: 'part', playlistId, run, variant, msn: Number(partMsn), part: Number(part) };
}

export interface BlockingQuery {
  msn?: number;
  part?: number;
  /** `_HLS_skip=YES` (or v2): a delta update. */
  skip: boolean;
}

/** Reads `_HLS_msn`, `_HLS_part`, `_HLS_skip` (RFC 8216bis §6.2.5); a string is the reason for a 400. */
export function parseBlockingQuery(search: URLSearchParams): BlockingQuery | string {
  const readIndex = (name: string): number | undefined | string => {
    const value = search.get(name);
    if (value === null) return undefined;
    if (!/^\d{1,9}$/.test(value)) return `${name} must be a non-negative integer`;
    return Number(value);
  };
  const msn = readIndex('_HLS_msn');
  const part = readIndex('_HLS_part');
  if (typeof msn === 'string') return msn;
  if (typeof part === 'string') return part;
  if (part !== undefined && msn === undefined) return '_HLS_part requires _HLS_msn';
  const skipValue = search.get('_HLS_skip');
  if (skipValue !== null && skipValue !== 'YES' && skipValue !== 'v2') return '_HLS_skip must be YES or v2';
  const query: BlockingQuery = { skip: skipValue !== null };
  if (msn !== undefined) query.msn = msn;
  if (part !== undefined) query.part = part;
  return query;
}
