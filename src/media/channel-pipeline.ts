/**
 * A channel's media from its publishers to HLS, for the channel's life: one decoder per publisher, whose pictures
 * and sound go to every playlist that shows that publisher: the composite (every publisher in the channel's
 * layout) and, for multistream channels with HLS, the publisher's own playlist. Each publisher is decoded once,
 * whatever it feeds. Publishers come and go; the composite goes on; a publisher's own playlist ends with it.
 */
import type { Logger } from 'pino';
import { defaultLayout, hasComposite, type Layout } from '../channel/channel-spec.ts';
import { newPlaylistId } from '../channel/channel-registry.ts';
import type { IngestManager } from '../ingest/ingest-manager.ts';
import type { PublisherFeed } from '../ingest/publisher-feed.ts';
import type { ChannelRecord } from '../store/channel-store.ts';
import { canvasFor, HlsOutput, type MediaOptions } from './hls-output.ts';
import type { Canvas } from './media-args.ts';
import {
  PublisherDecoder,
  type DecodedAudio,
  type DecodedVideo,
  type DecoderSink,
} from './publisher-decoder.ts';

/** One decoder's output handed to several playlists' mixers. */
class FanOut implements DecoderSink {
  readonly sinks = new Set<DecoderSink>();

  video(frame: DecodedVideo): void {
    for (const sink of this.sinks) sink.video(frame);
  }

  audio(chunk: DecodedAudio): void {
    for (const sink of this.sinks) sink.audio(chunk);
  }
}

interface Publisher {
  feed: PublisherFeed;
  decoder: PublisherDecoder;
  fanOut: FanOut;
  /** Its own playlist, on multistream channels with HLS. */
  output: HlsOutput | undefined;
}

export interface ChannelPipelineEvents {
  /** A playlist of the channel started or ended; the media manager indexes playlists by id. */
  outputAdded(output: HlsOutput): void;
  outputEnded(output: HlsOutput): void;
  /** A publisher's own playlist can now be played. */
  publisherPlaylistReady(connectionId: string, output: HlsOutput): void;
}

export class ChannelPipeline {
  readonly channelId: string;
  readonly record: ChannelRecord;
  /** The playlist of every publisher, at the channel's playlist_url; absent for multistream channels. */
  readonly composite: HlsOutput | undefined;
  readonly #publishers = new Map<string, Publisher>();
  readonly #ingest: IngestManager;
  readonly #options: MediaOptions;
  readonly #epochMs: number;
  readonly #log: Logger;
  readonly #events: ChannelPipelineEvents;
  readonly #canvas: Canvas;
  #offFeed: (() => void) | undefined;
  /** Publishers that left, their decoder and playlist still stopping. */
  readonly #ending = new Set<Promise<void>>();
  #closed = false;

  constructor(
    record: ChannelRecord,
    epochMs: number,
    ingest: IngestManager,
    options: MediaOptions,
    log: Logger,
    events: ChannelPipelineEvents,
  ) {
    this.channelId = record.channelId;
    this.record = record;
    this.#ingest = ingest;
    this.#options = options;
    this.#epochMs = epochMs;
    this.#log = log;
    this.#events = events;
    this.#canvas = canvasFor(record.spec.hls);
    this.composite = hasComposite(record.spec)
      ? new HlsOutput({
          channelId: record.channelId,
          playlistId: record.playlistId,
          variants: record.spec.hls,
          composition: { kind: 'layout', layout: record.spec.layout ?? defaultLayout },
          epochMs,
          media: options,
          log: log.child({ playlist: 'composite' }),
        })
      : undefined;
  }

  start(): void {
    if (this.composite !== undefined) {
      this.composite.start();
      this.#events.outputAdded(this.composite);
    }
    for (const feed of this.#ingest.feeds(this.channelId)) this.#addFeed(feed);
    this.#offFeed = this.#ingest.onFeed((feed) => {
      if (feed.channelId === this.channelId) this.#addFeed(feed);
    });
  }

  setLayout(layout: Layout): void {
    this.composite?.setLayout(layout);
  }

  /** Publishers' own playlists that can be played, by connection_id. */
  publisherPlaylists(): { connectionId: string; playlistId: string }[] {
    const out: { connectionId: string; playlistId: string }[] = [];
    for (const [connectionId, publisher] of this.#publishers) {
      if (publisher.output?.playable === true)
        out.push({ connectionId, playlistId: publisher.output.playlistId });
    }
    return out;
  }

  stats(): Record<string, unknown> {
    const publishers = Object.fromEntries(
      [...this.#publishers].map(([id, publisher]) => [
        id,
        {
          decoder: publisher.decoder.stats(),
          ...(publisher.output ? { playlist: publisher.output.stats() } : {}),
        },
      ]),
    );
    return { ...(this.composite?.stats() ?? {}), publishers };
  }

  /** Every playlist of the channel now: the composite and the publishers' own. */
  outputs(): HlsOutput[] {
    const own = [...this.#publishers.values()].flatMap((p) => (p.output === undefined ? [] : [p.output]));
    return this.composite === undefined ? own : [this.composite, ...own];
  }

  /** Kills the composite's encoder (supervision tests). */
  killEncoder(): void {
    this.composite?.killEncoder();
  }

  /** The decoders' pids (CPU accounting in benchmarks). */
  decoderPids(): number[] {
    return [...this.#publishers.values()].flatMap((p) =>
      p.decoder.pid === undefined ? [] : [p.decoder.pid],
    );
  }

  /** Ends the stream: playlists get EXT-X-ENDLIST, every process stops. */
  async close(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offFeed?.();
    const publishers = [...this.#publishers.values()];
    this.#publishers.clear();
    // Publishers that left earlier may still be stopping their decoder: wait for them too.
    await Promise.all([...publishers.map((publisher) => this.#endPublisher(publisher)), ...this.#ending]);
    if (this.composite !== undefined) {
      await this.composite.close();
      this.#events.outputEnded(this.composite);
    }
    this.#log.info({ reason }, 'channel media closed');
  }

  #addFeed(feed: PublisherFeed): void {
    const connectionId = feed.publisherId;
    if (this.#closed || this.#publishers.has(connectionId)) return;
    const fanOut = new FanOut();
    const source = { connectionId, clientId: feed.clientId };
    if (this.composite !== undefined) fanOut.sinks.add(this.composite.addSource(source));
    let output: HlsOutput | undefined;
    if (this.record.spec.perPublisher === true && this.record.spec.hls.length > 0) {
      output = new HlsOutput({
        channelId: this.channelId,
        playlistId: newPlaylistId(),
        variants: this.record.spec.hls,
        composition: { kind: 'single' },
        epochMs: this.#epochMs,
        media: this.#options,
        log: this.#log.child({ playlist: connectionId }),
      });
      fanOut.sinks.add(output.addSource(source));
      output.start();
      this.#events.outputAdded(output);
      const ready = output;
      void output.whenPlayable().then((playable) => {
        if (playable && !this.#closed && this.#publishers.get(connectionId)?.output === ready) {
          this.#events.publisherPlaylistReady(connectionId, ready);
        }
      });
    }
    const decoder = new PublisherDecoder({
      feed,
      ffmpegPath: this.#options.ffmpegPath,
      canvas: this.#canvas,
      sink: fanOut,
      log: this.#log.child({ stage: 'decoder', publisher: connectionId }),
    });
    const publisher: Publisher = { feed, decoder, fanOut, output };
    this.#publishers.set(connectionId, publisher);
    decoder.start();
    feed.onClose(() => {
      if (this.#publishers.get(connectionId) !== publisher) return;
      this.#publishers.delete(connectionId);
      const ending = this.#endPublisher(publisher);
      this.#ending.add(ending);
      void ending.then(() => this.#ending.delete(ending));
    });
  }

  async #endPublisher(publisher: Publisher): Promise<void> {
    const connectionId = publisher.feed.publisherId;
    this.composite?.removeSource(connectionId);
    publisher.fanOut.sinks.clear();
    await publisher.decoder.close();
    if (publisher.output !== undefined) {
      await publisher.output.close();
      this.#events.outputEnded(publisher.output);
    }
  }
}
