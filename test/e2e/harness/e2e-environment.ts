/**
 * What every browser end-to-end suite sets up: a Nagare server (in this process, port 0), the page server and one
 * Chromium; closed in reverse order whatever failed. Use inside a `describe`.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Config } from '../../../src/config.ts';
import type { NagareServerOptions } from '../../../src/server.ts';
import { callApi, startTestServer, validVariant, type TestServer } from '../../helpers/server.ts';
import { launchBrowser, type BrowserHandle } from './chromium.ts';
import { startPageServer, type PageServer } from './page-server.ts';
import { openSoraClient, type SoraClientPage } from './sora-page.ts';

export interface E2eEnvironment {
  readonly server: TestServer;
  readonly pages: PageServer;
  readonly browser: BrowserHandle;
  /** ws://127.0.0.1:<port>/signaling */
  signalingUrl(): string;
  /** A new channel (one default variant unless `hls` is given); returns its channel_id. */
  newChannel(hls?: unknown[]): Promise<string>;
  /** A new channel with these variants (CreateChannel): its channel_id and playlist_url. */
  newChannelWithPlaylist(hls: unknown[]): Promise<{ channelId: string; playlistUrl: string }>;
  /** A new sora-js-sdk client page, closed with the environment. */
  client(): Promise<SoraClientPage>;
}

export function useE2eEnvironment(
  overrides: Partial<Config> = {},
  options: NagareServerOptions = {},
): E2eEnvironment {
  let server: TestServer | undefined;
  let pages: PageServer | undefined;
  let browser: BrowserHandle | undefined;
  const clients: SoraClientPage[] = [];

  before(async () => {
    server = await startTestServer(overrides, options);
    pages = await startPageServer();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await browser?.close();
    await pages?.close();
    await server?.close();
  });

  const started = <T>(value: T | undefined, what: string): T => {
    assert.ok(value !== undefined, `${what} was not started (suite set-up failed)`);
    return value;
  };

  return {
    get server() {
      return started(server, 'the server');
    },
    get pages() {
      return started(pages, 'the page server');
    },
    get browser() {
      return started(browser, 'Chromium');
    },
    signalingUrl() {
      return `ws://127.0.0.1:${this.server.server.port}/signaling`;
    },
    async newChannel(hls = [validVariant()]) {
      return (await this.newChannelWithPlaylist(hls)).channelId;
    },
    async newChannelWithPlaylist(hls) {
      const created = await callApi(this.server.url, 'ImageFlux_20180905.CreateChannel', { hls });
      assert.equal(created.status, 200, JSON.stringify(created.json));
      const { channel_id: channelId, playlist_url: playlistUrl } = created.json as {
        channel_id: string;
        playlist_url: string;
      };
      return { channelId, playlistUrl };
    },
    async client() {
      const page = await openSoraClient(this.browser, this.pages.url);
      clients.push(page);
      return page;
    },
  };
}
