/**
 * The base URLs the API hands out. With `publicUrl` configured they derive from it (a reverse proxy or
 * TLS terminator in front); otherwise from the request's Host header, when it is a plausible host[:port].
 */
import type { IncomingMessage } from 'node:http';

export interface PublicUrls {
  /** http(s)://host[:port][/prefix], no trailing slash. */
  http: string;
  /** ws(s)://host[:port][/prefix], no trailing slash. */
  ws: string;
}

const plausibleHost = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export function publicUrlsFor(
  publicUrl: string | undefined,
  req: IncomingMessage,
  fallbackHost: string,
): PublicUrls {
  let base: string;
  if (publicUrl !== undefined) {
    base = publicUrl.replace(/\/+$/, '');
  } else {
    const host = req.headers.host;
    base = `http://${host !== undefined && plausibleHost.test(host) ? host : fallbackHost}`;
  }
  return { http: base, ws: base.replace(/^http/, 'ws') };
}

export const soraUrl = (urls: PublicUrls): string => `${urls.ws}/signaling`;

/** The path of a playlist's multivariant playlist. */
export const playlistPath = (playlistId: string): string => `/hls/${playlistId}/index.m3u8`;

export const playlistUrl = (urls: PublicUrls, playlistId: string): string =>
  `${urls.http}${playlistPath(playlistId)}`;
