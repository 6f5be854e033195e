/**
 * Runs a ChannelPipeline for every channel that has gone live, from its first publisher to its deletion (or an
 * idle timeout with nobody publishing), and finds it for the origin by playlist id.
 */
import type { Logger } from 'pino';
import type { ChannelRegistry } from '../channel/channel-registry.ts';
import type { IngestManager } from '../ingest/ingest-manager.ts';
import { ChannelPipeline, type MediaOptions } from './channel-pipeline.ts';

export interface MediaManagerOptions extends MediaOptions {
  /** A channel with nobody publishing for this long ends its stream (EXT-X-ENDLIST) and stops encoding. */
  idleTimeoutMs: number;
}

export class MediaManager {
  readonly #pipelines = new Map<string, ChannelPipeline>();
  readonly #byPlaylist = new Map<string, ChannelPipeline>();
  readonly #idleTimers = new Map<string, NodeJS.Timeout>();
  readonly #registry: ChannelRegistry;
  readonly #ingest: IngestManager;
  readonly #options: MediaManagerOptions;
  readonly #log: Logger;
  #offFeed: (() => void) | undefined;

  constructor(registry: ChannelRegistry, ingest: IngestManager, options: MediaManagerOptions, log: Logger) {
    this.#registry = registry;
    this.#ingest = ingest;
    this.#options = options;
    this.#log = log;
  }

  start(): void {
    this.#offFeed = this.#ingest.onFeed((feed) => {
      this.#onPublisher(feed.channelId);
      feed.onClose(() => {
        this.#scheduleIdleCheck(feed.channelId);
      });
    });
  }

  pipeline(channelId: string): ChannelPipeline | undefined {
    return this.#pipelines.get(channelId);
  }

  pipelineForPlaylist(playlistId: string): ChannelPipeline | undefined {
    return this.#byPlaylist.get(playlistId);
  }

  /** The channel is deleted: end its stream for good. */
  async endChannel(channelId: string, reason: string): Promise<void> {
    const pipeline = this.#pipelines.get(channelId);
    clearTimeout(this.#idleTimers.get(channelId));
    this.#idleTimers.delete(channelId);
    if (pipeline === undefined) return;
    this.#pipelines.delete(channelId);
    await pipeline.close(reason);
    // Ended playlists stay readable (with EXT-X-ENDLIST) for a while, then go.
    setTimeout(() => {
      if (this.#byPlaylist.get(pipeline.record.playlistId) === pipeline)
        this.#byPlaylist.delete(pipeline.record.playlistId);
    }, 60_000).unref();
  }

  async close(): Promise<void> {
    this.#offFeed?.();
    await Promise.all([...this.#pipelines.keys()].map((id) => this.endChannel(id, 'server shutting down')));
  }

  #onPublisher(channelId: string): void {
    clearTimeout(this.#idleTimers.get(channelId));
    this.#idleTimers.delete(channelId);
    if (this.#pipelines.has(channelId)) return;
    const view = this.#registry.find(channelId);
    const epochMs = this.#ingest.epochMs(channelId);
    if (view === undefined || view.state === 'deleted' || epochMs === undefined) return;
    const pipeline = new ChannelPipeline(
      view.record,
      epochMs,
      this.#ingest,
      this.#options,
      this.#log.child({ channel: channelId.slice(0, 8) }),
    );
    this.#pipelines.set(channelId, pipeline);
    this.#byPlaylist.set(view.record.playlistId, pipeline);
    pipeline.start();
  }

  #scheduleIdleCheck(channelId: string): void {
    if (!this.#pipelines.has(channelId) || this.#idleTimers.has(channelId)) return;
    const timer = setTimeout(() => {
      this.#idleTimers.delete(channelId);
      if (this.#ingest.feeds(channelId).length === 0) void this.endChannel(channelId, 'idle');
    }, this.#options.idleTimeoutMs);
    timer.unref();
    this.#idleTimers.set(channelId, timer);
  }
}
