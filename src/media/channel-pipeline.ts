/**
 * A channel's media from its publishers to HLS, for the channel's life: one decoder per publisher, whose pictures
 * and sound go to every playlist that shows that publisher: the composite (every publisher in the channel's
 * layout) and, for multistream channels with HLS, the publisher's own playlist. Each publisher is decoded once,
 * whatever it feeds. Publishers come and go; the composite goes on; a publisher's own playlist ends with it.
 *
 * A playlist that shows one publisher, the composite of the channel's first publisher or a publisher's own, is
 * encoded directly (HlsOutput.encodeDirect) while it can be, so the publisher needs a decoder only once a playlist
 * showing it mixes: when a second publisher comes, or the direct run ends on its own.
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
  /** Started once a playlist showing the publisher mixes. */
  decoder: PublisherDecoder | undefined;
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
  /** The publisher the composite encodes directly. */
  #directPublisher: string | undefined;
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
    // Publishers first: the first may be encoded directly, which must be set before the composite starts.
    for (const feed of this.#ingest.feeds(this.channelId)) this.#addFeed(feed);
    if (this.composite !== undefined) {
      this.composite.start();
      this.#events.outputAdded(this.composite);
    }
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
          ...(publisher.decoder ? { decoder: publisher.decoder.stats() } : {}),
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
      p.decoder?.pid === undefined ? [] : [p.decoder.pid],
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
    const publisher: Publisher = { feed, decoder: undefined, fanOut: new FanOut(), output: undefined };
    this.#publishers.set(connectionId, publisher);
    const { composite } = this;
    if (composite !== undefined) {
      const direct =
        this.#publishers.size === 1 &&
        composite.encodeDirect(feed, () => {
          this.#directPublisher = undefined;
          this.#mix(connectionId, composite);
        });
      if (direct) this.#directPublisher = connectionId;
      else {
        // The publisher encoded directly joins the mix first (the callback), then this one.
        composite.endDirect('a second publisher');
        this.#mix(connectionId, composite);
      }
    }
    if (this.record.spec.perPublisher === true && this.record.spec.hls.length > 0) {
      const output = new HlsOutput({
        channelId: this.channelId,
        playlistId: newPlaylistId(),
        variants: this.record.spec.hls,
        composition: { kind: 'single' },
        epochMs: this.#epochMs,
        media: this.#options,
        log: this.#log.child({ playlist: connectionId }),
      });
      publisher.output = output;
      const direct = output.encodeDirect(feed, () => {
        this.#mix(connectionId, output);
      });
      if (!direct) this.#mix(connectionId, output);
      output.start();
      this.#events.outputAdded(output);
      void output.whenPlayable().then((playable) => {
        if (playable && !this.#closed && this.#publishers.get(connectionId)?.output === output) {
          this.#events.publisherPlaylistReady(connectionId, output);
        }
      });
    }
    feed.onClose(() => {
      if (this.#publishers.get(connectionId) !== publisher) return;
      this.#publishers.delete(connectionId);
      const ending = this.#endPublisher(publisher);
      this.#ending.add(ending);
      void ending.then(() => this.#ending.delete(ending));
    });
  }

  /** A playlist showing this publisher mixes it: its decoded pictures and sound go there (decoded from now on). */
  #mix(connectionId: string, output: HlsOutput): void {
    const publisher = this.#publishers.get(connectionId);
    if (this.#closed || publisher === undefined) return;
    const { feed, fanOut } = publisher;
    fanOut.sinks.add(output.addSource({ connectionId, clientId: feed.clientId }));
    if (publisher.decoder !== undefined) return;
    publisher.decoder = new PublisherDecoder({
      feed,
      ffmpegPath: this.#options.ffmpegPath,
      canvas: this.#canvas,
      sink: fanOut,
      log: this.#log.child({ stage: 'decoder', publisher: connectionId }),
    });
    publisher.decoder.start();
  }

  async #endPublisher(publisher: Publisher): Promise<void> {
    const connectionId = publisher.feed.publisherId;
    // While the channel closes, the composite ends as it is; otherwise the mixer goes on without the publisher.
    if (!this.#closed && this.#directPublisher === connectionId) this.composite?.endDirect('publisher left');
    this.composite?.removeSource(connectionId);
    publisher.fanOut.sinks.clear();
    await publisher.decoder?.close();
    if (publisher.output !== undefined) {
      await publisher.output.close();
      this.#events.outputEnded(publisher.output);
    }
  }
}
