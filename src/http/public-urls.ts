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
  /** Where playlists are: `http`, or the HLS port's base when HLS has a port of its own. */
  hls: string;
}

/** Where HLS is served when it has a port of its own (`--hls-port`, `--hls-public-url`). */
export interface HlsListener {
  port: number;
  publicUrl: string | undefined;
}

const plausibleHost = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export function publicUrlsFor(
  publicUrl: string | undefined,
  req: IncomingMessage,
  fallbackHost: string,
  hlsListener?: HlsListener,
): PublicUrls {
  let base: string;
  if (publicUrl !== undefined) {
    base = publicUrl.replace(/\/+$/, '');
  } else {
    const host = req.headers.host;
    base = `http://${host !== undefined && plausibleHost.test(host) ? host : fallbackHost}`;
  }
  return { http: base, ws: base.replace(/^http/, 'ws'), hls: hlsBase(base, hlsListener) };
}

/**
 * The HLS port's public base: as configured, else plain http on the host of `base` (the host clients reached the
 * API by) with the HLS port.
 */
function hlsBase(base: string, listener: HlsListener | undefined): string {
  if (listener === undefined) return base;
  if (listener.publicUrl !== undefined) return listener.publicUrl.replace(/\/+$/, '');
  return `http://${new URL(base).hostname}:${listener.port}`;
}

export const soraUrl = (urls: PublicUrls): string => `${urls.ws}/signaling`;

/** The path of a playlist's multivariant playlist. */
export const playlistPath = (playlistId: string): string => `/hls/${playlistId}/index.m3u8`;

export const playlistUrl = (urls: PublicUrls, playlistId: string): string =>
  `${urls.hls}${playlistPath(playlistId)}`;
