/**
 * Node-side, typed handle on one browser tab running pages/sora-client.js (the real sora-js-sdk). Every method
 * is one page.evaluate; the types below describe what that page puts on `window`, so keep the two in step.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import type { BrowserHandle } from './chromium.ts';

export type SoraRole = 'sendonly' | 'recvonly' | 'sendrecv';
/**
 * `'camera'`: Chromium's fake camera and microphone. `'clock'`: Date.now() drawn as rows of blocks
 * (bench/glass-to-glass.ts reads it back) and a quiet tone. Otherwise a canvas of one colour and an oscillator
 * tone; with `flashEveryMs`, the picture turns white and the tone sounds together for `flashMs` (default 200) each
 * period.
 */
export type MediaSourceSpec =
  'camera' | 'clock' | { color: string; toneHz: number; flashEveryMs?: number; flashMs?: number };
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SoraConnectOptions {
  signalingUrl: string | string[];
  channelId: string;
  role: SoraRole;
  metadata?: Json;
  /** sora-js-sdk ConnectionOptions, e.g. `{ videoCodecType: 'H264', connectionTimeout: 10_000 }`. */
  options?: { [key: string]: Json };
  /** Send roles only; default `'camera'`. */
  source?: MediaSourceSpec;
  /** sora-js-sdk debug logging (goes to the console, hence to `diagnostics`). */
  debug?: boolean;
}

/** A failed connect(). For a ConnectError (the server closed the WebSocket) `code`/`reason` are the close's. */
export interface SoraConnectFailure {
  name: string;
  message: string;
  code: number | null;
  reason: string | null;
}
export type SoraConnectResult = { connectionId: string } | { error: SoraConnectFailure };

interface LogTime {
  /** Date.now() in the page when the callback ran. */
  atMs: number;
}
export type SoraLogEntry = LogTime &
  (
    | {
        event: 'notify';
        message: { type: 'notify'; event_type: string; [key: string]: Json };
        transport: string;
      }
    | { event: 'push'; message: { type: 'push'; data?: Json; [key: string]: Json }; transport: string }
    | { event: 'track' | 'removetrack'; streamId: string | null; kind: 'audio' | 'video' }
    | {
        event: 'disconnect';
        type: 'normal' | 'abend';
        title: string;
        code: number | null;
        reason: string | null;
      }
    | { event: 'timeout' | 'connected' | 'pong-dropped' }
  );

export interface InboundRtpStats {
  kind: 'audio' | 'video';
  codecMimeType: string | null;
  bytesReceived: number;
  packetsReceived: number;
  /** null for audio */
  framesDecoded: number | null;
  frameWidth: number | null;
  frameHeight: number | null;
  trackIdentifier: string | null;
  /** RTP packets never received (after retransmissions). */
  packetsLost: number;
  /** NACKs this receiver sent; null-free: 0 for audio. */
  nackCount: number;
  pliCount: number;
}

export interface OutboundRtpStats {
  kind: 'audio' | 'video';
  codecMimeType: string | null;
  bytesSent: number;
  packetsSent: number;
  framesEncoded: number | null;
}

export interface SoraClientSnapshot {
  log: SoraLogEntry[];
  remoteStreamIds: string[];
  inbound: InboundRtpStats[];
  outbound: OutboundRtpStats[];
}

export interface TrackReport {
  kind: 'audio' | 'video';
  readyState: 'live' | 'ended';
  enabled: boolean;
  muted: boolean;
  settings: {
    width?: number;
    height?: number;
    frameRate?: number;
    sampleRate?: number;
    channelCount?: number;
  };
}
export interface SourceReport {
  tracks: TrackReport[];
  /** What a <video> playing the stream showed: its size and how many frames it rendered (at least 3). */
  rendered: { width: number; height: number; framesSeen: number };
  /** RMS (full scale 1) of the audio over ~43 ms, 200 ms after opening; a 0.5-gain sine gives ~0.35. */
  audioRms: number;
}

/**
 * What sora-client.js puts on `window`. Inside page.evaluate, `globalThis` is `window`; the cast to this type
 * is erased (Node strips types on load) before Playwright serializes the function.
 */
interface SoraPageWindow {
  soraReady?: true;
  soraVersion: string;
  soraLog: SoraLogEntry[];
  soraConnect(options: SoraConnectOptions): Promise<SoraConnectResult>;
  soraDisconnect(): Promise<void>;
  soraDropPongs(on: boolean): void;
  soraPauseSending(on: boolean): Promise<number>;
  soraRemoteStreamIds(): string[];
  soraInboundStats(): Promise<InboundRtpStats[]>;
  soraOutboundStats(): Promise<OutboundRtpStats[]>;
  soraSnapshot(): Promise<SoraClientSnapshot>;
  soraTestSource(source: MediaSourceSpec): Promise<SourceReport>;
}

export interface SoraClientPage {
  readonly page: Page;
  /** Console lines and uncaught page errors, for failure messages. */
  readonly diagnostics: string[];
  version(): Promise<string>;
  connect(options: SoraConnectOptions): Promise<SoraConnectResult>;
  log(): Promise<SoraLogEntry[]>;
  remoteStreamIds(): Promise<string[]>;
  inboundStats(): Promise<InboundRtpStats[]>;
  outboundStats(): Promise<OutboundRtpStats[]>;
  disconnect(): Promise<void>;
  /** From now on (or until called with false) the page swallows its outgoing pongs. */
  dropPongs(on?: boolean): Promise<void>;
  /** Stops (true) or resumes (false) sending media, the connection staying up; resolves to the senders touched. */
  pauseSending(on: boolean): Promise<number>;
  /** Opens a media source without connecting and reports its tracks; see pages/sora-client.js. */
  testSource(source: MediaSourceSpec): Promise<SourceReport>;
  /**
   * Polls every 100 ms until `predicate` holds and returns the snapshot it held on. On timeout throws an Error
   * naming `description` and carrying the last log and the page's console.
   */
  waitFor(
    predicate: (snapshot: SoraClientSnapshot) => boolean,
    timeoutMs: number,
    description: string,
  ): Promise<SoraClientSnapshot>;
  close(): Promise<void>;
}

const pollIntervalMs = 100;
const diagnosticsLimit = 500;

export async function openSoraClient(browser: BrowserHandle, pageServerUrl: string): Promise<SoraClientPage> {
  const page = await browser.newPage();
  const diagnostics: string[] = [];
  const note = (line: string) => {
    diagnostics.push(line);
    if (diagnostics.length > diagnosticsLimit) diagnostics.shift();
  };
  page.on('console', (message) => {
    note(`[console.${message.type()}] ${message.text()}`);
  });
  page.on('pageerror', (error) => {
    note(`[pageerror] ${error.stack ?? error.message}`);
  });
  try {
    await page.goto(`${pageServerUrl}/sora-client.html`);
    await page.waitForFunction(() => (globalThis as unknown as SoraPageWindow).soraReady === true, null, {
      timeout: 10_000,
    });
  } catch (error) {
    await page.close();
    throw new Error(`sora-client.html did not load: ${String(error)}\n${diagnostics.join('\n')}`, {
      cause: error,
    });
  }

  const snapshot = () => page.evaluate(() => (globalThis as unknown as SoraPageWindow).soraSnapshot());
  return {
    page,
    diagnostics,
    version: () => page.evaluate(() => (globalThis as unknown as SoraPageWindow).soraVersion),
    // Playwright's Unboxed<> of the recursive Json type is too deep for tsc, so the argument travels as unknown.
    connect: (options) =>
      page.evaluate<SoraConnectResult, unknown>(
        (o) => (globalThis as unknown as SoraPageWindow).soraConnect(o as SoraConnectOptions),
        options,
      ),
    log: () => page.evaluate(() => [...(globalThis as unknown as SoraPageWindow).soraLog]),
    remoteStreamIds: () =>
      page.evaluate(() => (globalThis as unknown as SoraPageWindow).soraRemoteStreamIds()),
    inboundStats: () => page.evaluate(() => (globalThis as unknown as SoraPageWindow).soraInboundStats()),
    outboundStats: () => page.evaluate(() => (globalThis as unknown as SoraPageWindow).soraOutboundStats()),
    disconnect: () => page.evaluate(() => (globalThis as unknown as SoraPageWindow).soraDisconnect()),
    pauseSending: (on) =>
      page.evaluate((flag) => (globalThis as unknown as SoraPageWindow).soraPauseSending(flag), on),
    dropPongs: (on = true) =>
      page.evaluate((flag) => {
        (globalThis as unknown as SoraPageWindow).soraDropPongs(flag);
      }, on),
    testSource: (source) =>
      page.evaluate((s) => (globalThis as unknown as SoraPageWindow).soraTestSource(s), source),
    async waitFor(predicate, timeoutMs, description) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const last = await snapshot();
        if (predicate(last)) return last;
        if (Date.now() >= deadline) {
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${description}\n` +
              `last log: ${JSON.stringify(last.log, null, 1)}\n` +
              `inbound: ${JSON.stringify(last.inbound)}\noutbound: ${JSON.stringify(last.outbound)}\n` +
              `page console (last 30):\n${diagnostics.slice(-30).join('\n')}`,
          );
        }
        await sleep(pollIntervalMs);
      }
    },
    close: () => page.close(),
  };
}
