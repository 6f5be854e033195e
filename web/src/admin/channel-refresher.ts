/**
 * The admin page's refresh loop: the token's channels with their publishers, one refresh at a time, every 2 s,
 * until stopped (the token was refused). An unreachable server is announced, and so is its return.
 */
import { ApiError, announce, api, explain } from '../common.ts';
import type { Channel, Connection } from './channel.ts';

const refreshIntervalMs = 2000;

async function describe(channelId: string): Promise<[Channel, Connection[]] | undefined> {
  let channel: Channel;
  try {
    channel = await api<Channel>('Nagare_20261124.DescribeChannel', { channel_id: channelId });
  } catch (error) {
    // Deleted between the list and now: it goes at the next refresh.
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
  if (channel.connections === 0) return [channel, []];
  const connections = await api<Connection[]>('Sora_20201013.ListChannelConnections', {
    channel_id: channelId,
  }).catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 401) throw error;
    return [];
  });
  return [channel, connections.filter((c) => c.role === 'sendonly' || c.role === 'sendrecv')];
}

export interface ChannelRefresherOptions {
  /** The channels as described at one refresh, in the server's order (`undefined`: deleted meanwhile). */
  show: (described: ([Channel, Connection[]] | undefined)[]) => void;
  /** The server refused the token (401), with its message; refreshing has stopped. */
  onTokenRefused: (message: string) => void;
}

export class ChannelRefresher {
  readonly #options: ChannelRefresherOptions;
  #generation = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The last refresh failed (the server was unreachable): the next that works says so. */
  #refreshFailed = false;

  constructor(options: ChannelRefresherOptions) {
    this.#options = options;
  }

  /** Refresh now (and every 2 s from now on). */
  now(): void {
    clearTimeout(this.#timer);
    this.#generation += 1;
    void this.#refresh(this.#generation);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#generation += 1;
  }

  async #refresh(run: number): Promise<void> {
    try {
      const { channel_ids } = await api<{ channel_ids: string[] }>('ImageFlux_20200729.ListChannelIDs', {});
      const described = await Promise.all(channel_ids.map(describe));
      if (run !== this.#generation) return;
      this.#options.show(described);
      if (this.#refreshFailed) announce('The server answers again.');
      this.#refreshFailed = false;
    } catch (error) {
      if (run !== this.#generation) return;
      if (error instanceof ApiError && error.status === 401) {
        this.#options.onTokenRefused(explain(error));
        return;
      }
      announce(`The channels could not be refreshed: ${explain(error)}`, 'error');
      this.#refreshFailed = true;
    }
    if (run === this.#generation) this.#timer = setTimeout(() => void this.#refresh(run), refreshIntervalMs);
  }
}
