/**
 * Runs a ChannelPipeline for every channel with HLS that has gone live, from its first publisher to its deletion
 * (or an idle timeout with nobody publishing); finds each playlist (the composite, a publisher's own) for the
 * origin by playlist id; sends `notify.playlist_url` when a publisher's own playlist can be played.
 */
import type { Logger } from 'pino';
import type { ChannelRegistry } from '../channel/channel-registry.ts';
import { variantsCost } from '../channel/admission.ts';
import type { Layout } from '../channel/channel-spec.ts';
import { EventWebhook } from '../channel/event-webhook.ts';
import { playlistPath } from '../http/public-urls.ts';
import type { IngestManager } from '../ingest/ingest-manager.ts';
import { ChannelPipeline } from './channel-pipeline.ts';
import type { HlsOutput, MediaOptions } from './hls-output.ts';

export interface MediaManagerOptions extends MediaOptions {
  /** A channel with nobody publishing for this long ends its stream (EXT-X-ENDLIST) and stops encoding. */
  idleTimeoutMs: number;
  /** Ended playlists stay readable (with EXT-X-ENDLIST) this long. */
  endedPlaylistMs?: number;
}

/** Hears a playlist become readable by the origin, and stop being so (a while after it ended). */
export interface PlaylistListener {
  added(output: HlsOutput): void;
  removed(output: HlsOutput): void;
}

export class MediaManager {
  readonly #pipelines = new Map<string, ChannelPipeline>();
  readonly #outputs = new Map<string, HlsOutput>();
  readonly #playlistListeners = new Set<PlaylistListener>();
  readonly #idleTimers = new Map<string, NodeJS.Timeout>();
  readonly #registry: ChannelRegistry;
  readonly #ingest: IngestManager;
  readonly #options: MediaManagerOptions;
  readonly #log: Logger;
  readonly #events: EventWebhook;
  #offFeed: (() => void) | undefined;

  constructor(
    registry: ChannelRegistry,
    ingest: IngestManager,
    options: MediaManagerOptions,
    log: Logger,
    events: EventWebhook = new EventWebhook(log.child({ stage: 'event-webhook' })),
  ) {
    this.#registry = registry;
    this.#ingest = ingest;
    this.#options = options;
    this.#log = log;
    this.#events = events;
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

  /** A playlist (live, or ended a short while ago) by the id in its URL. */
  outputForPlaylist(playlistId: string): HlsOutput | undefined {
    return this.#outputs.get(playlistId);
  }

  /** `listener` hears every playlist added or removed from now on. */
  onPlaylists(listener: PlaylistListener): () => void {
    this.#playlistListeners.add(listener);
    return () => this.#playlistListeners.delete(listener);
  }

  /** The running channel's composite follows `layout` from its next frame. */
  setLayout(channelId: string, layout: Layout): void {
    this.#pipelines.get(channelId)?.setLayout(layout);
  }

  /** Publishers' own playlists of a channel that can be played now. */
  publisherPlaylists(channelId: string): { connectionId: string; playlistId: string }[] {
    return this.#pipelines.get(channelId)?.publisherPlaylists() ?? [];
  }

  /**
   * Bytes served and viewers now, over every playlist of the channel; how far its newest media is behind real
   * time (the composite's, else a publisher's own playlist's).
   */
  traffic(channelId: string): { hlsBytes: number; viewers: number; liveEdgeMs: number | undefined } {
    const outputs = this.#pipelines.get(channelId)?.outputs() ?? [];
    let hlsBytes = 0;
    let viewers = 0;
    for (const output of outputs) {
      hlsBytes += output.audience.bytes;
      viewers += output.audience.viewers();
    }
    return { hlsBytes, viewers, liveEdgeMs: outputs[0]?.liveEdgeMs() };
  }

  /** How far each running channel's newest media is behind real time, ms. */
  liveEdges(): number[] {
    return this.#firstOutputFigures((output) => output.liveEdgeMs());
  }

  /** Ingest-to-playlist latency of each running channel's first playlist, ms (see HlsOutput.listingLatencyMs). */
  listingLatencies(): number[] {
    return this.#firstOutputFigures((output) => output.listingLatencyMs);
  }

  /** How far behind the channel clock each running channel's first playlist is mixed, ms (if it mixes). */
  mixerDelays(): number[] {
    return this.#firstOutputFigures((output) => output.mixerDelayMs);
  }

  /** Speed of every running playlist's encoder (see HlsOutput.encoderSpeed). */
  encoderSpeeds(): number[] {
    const speeds: number[] = [];
    for (const pipeline of this.#pipelines.values()) {
      for (const output of pipeline.outputs()) {
        const speed = output.encoderSpeed;
        if (speed !== undefined) speeds.push(speed);
      }
    }
    return speeds;
  }

  #firstOutputFigures(pick: (output: HlsOutput) => number | undefined): number[] {
    const figures: number[] = [];
    for (const pipeline of this.#pipelines.values()) {
      const output = pipeline.outputs()[0];
      const figure = output === undefined ? undefined : pick(output);
      if (figure !== undefined) figures.push(figure);
    }
    return figures;
  }

  /** Playlists being encoded now. */
  /** Playlists encoded directly now (HlsOutput.encodeDirect). */
  directCount(): number {
    let count = 0;
    for (const pipeline of this.#pipelines.values()) {
      for (const output of pipeline.outputs()) if (output.direct) count += 1;
    }
    return count;
  }

  outputCount(): number {
    let count = 0;
    for (const pipeline of this.#pipelines.values()) count += pipeline.outputs().length;
    return count;
  }

  /** Output pixels per second being encoded now, over every playlist of every channel. */
  encodingCost(): number {
    let cost = 0;
    for (const pipeline of this.#pipelines.values()) {
      for (const output of pipeline.outputs()) cost += variantsCost(output.variants);
    }
    return cost;
  }

  /** Whether the channel's composite is being encoded now. */
  compositeRunning(channelId: string): boolean {
    return this.#pipelines.get(channelId)?.composite !== undefined;
  }

  eventStats(): { sent: number; failed: number } {
    return this.#events.stats();
  }

  /** The channel is deleted: end its stream for good. */
  async endChannel(channelId: string, reason: string): Promise<void> {
    const pipeline = this.#pipelines.get(channelId);
    clearTimeout(this.#idleTimers.get(channelId));
    this.#idleTimers.delete(channelId);
    if (pipeline === undefined) return;
    this.#pipelines.delete(channelId);
    await pipeline.close(reason);
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
    // A multistream channel without HLS is the SFU alone.
    if (view.record.spec.hls.length === 0) return;
    const { record } = view;
    const log = this.#log.child({ channel: channelId.slice(0, 8) });
    const pipeline = new ChannelPipeline(record, epochMs, this.#ingest, this.#options, log, {
      outputAdded: (output) => {
        this.#outputs.set(output.playlistId, output);
        for (const listener of this.#playlistListeners) listener.added(output);
      },
      outputEnded: (output) => {
        setTimeout(() => {
          if (this.#outputs.get(output.playlistId) !== output) return;
          this.#outputs.delete(output.playlistId);
          for (const listener of this.#playlistListeners) listener.removed(output);
        }, this.#options.endedPlaylistMs ?? 60_000).unref();
      },
      publisherPlaylistReady: (connectionId, output) => {
        const url = record.spec.eventWebhookUrl;
        log.info({ connectionId, playlistId: output.playlistId }, 'publisher playlist ready');
        if (url === undefined) return;
        void this.#events.post(url, {
          type: 'notify.playlist_url',
          channel_id: channelId,
          connection_id: connectionId,
          timestamp: new Date().toISOString(),
          playlist_url: `${record.spec.publicBaseUrl ?? ''}${playlistPath(output.playlistId)}`,
        });
      },
    });
    this.#pipelines.set(channelId, pipeline);
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
