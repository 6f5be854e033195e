/**
 * A channel's media from its publishers to HLS, for the channel's life: one decoder per publisher, whose pictures
 * and sound go to every playlist that shows that publisher: the composite (every publisher in the channel's
 * layout) and, for multistream channels with HLS, the publisher's own playlist. Each publisher is decoded once,
 * whatever it feeds. Publishers come and go; the composite goes on; a publisher's own playlist ends with it.
 *
 * A playlist that shows one publisher, the composite of the channel's first publisher or a publisher's own, is
 * encoded directly (HlsOutput.encodeDirect) while it can be, so the publisher needs a decoder only while a playlist
 * showing it mixes: after a second publisher came, or the direct run ended on its own. The composite is tried
 * directly again 10 s after it comes back to one publisher; a playlist whose direct run ended on its own, after
 * 10 s, then three times longer after each such end (at most 10 minutes).
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

/**
 * After the composite comes down to one publisher, how long before it is tried directly, ms: the publisher who left
 * goes from the mix without a break, and the change to direct (a discontinuity) comes once the channel settled.
 */
const directAgainMs = 10_000;
/** After a direct run ended on its own, how long before the next try, ms: three times longer after each. */
const directRetryMs = 10_000;
const maxDirectRetryMs = 10 * 60_000;

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
  /** Running while a playlist showing the publisher mixes it. */
  decoder: PublisherDecoder | undefined;
  fanOut: FanOut;
  /** The playlists that mix it, with the sink each gave (one of fanOut's). */
  mixedIn: Map<HlsOutput, DecoderSink>;
  /** Its direct runs that ended on their own: each waits longer before the next try. */
  directFallbacks: number;
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
  /** Publishers that left, their decoder and playlist still stopping; decoders no longer needed, stopping. */
  readonly #ending = new Set<Promise<void>>();
  /** Playlists waiting to try direct encoding again. */
  readonly #directTries = new Map<HlsOutput, NodeJS.Timeout>();
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
    for (const timer of this.#directTries.values()) clearTimeout(timer);
    this.#directTries.clear();
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
    const publisher: Publisher = {
      feed,
      decoder: undefined,
      fanOut: new FanOut(),
      mixedIn: new Map(),
      output: undefined,
      directFallbacks: 0,
    };
    this.#publishers.set(connectionId, publisher);
    const { composite } = this;
    if (composite !== undefined) {
      if (this.#publishers.size === 1) this.#encodeDirect(publisher, composite);
      else {
        // The publisher encoded directly joins the mix first (its `ended`), then this one.
        this.#cancelDirectTry(composite);
        composite.endDirect('a second publisher');
        this.#mix(publisher, composite);
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
      this.#encodeDirect(publisher, output);
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
      // The composite's one publisher left now is tried directly again.
      const [remaining, ...others] = this.#publishers.values();
      if (
        this.#options.direct &&
        this.composite !== undefined &&
        remaining !== undefined &&
        others.length === 0
      ) {
        this.#tryDirectLater(remaining, this.composite, directAgainMs);
      }
    });
  }

  /**
   * `output` encodes `publisher` directly (or will, from its next keyframe, if it mixes now); when that ends, the
   * publisher is mixed there, and tried directly again later if the run ended on its own.
   */
  #encodeDirect(publisher: Publisher, output: HlsOutput): void {
    if (!this.#options.direct) {
      this.#mix(publisher, output);
      return;
    }
    const connectionId = publisher.feed.publisherId;
    const direct = output.encodeDirect(publisher.feed, {
      took: () => {
        this.#unmix(publisher, output);
      },
      ended: (_, itself) => {
        if (output === this.composite) this.#directPublisher = undefined;
        this.#mix(publisher, output);
        if (!itself) return;
        publisher.directFallbacks += 1;
        const delay = directRetryMs * 3 ** (publisher.directFallbacks - 1);
        this.#tryDirectLater(publisher, output, Math.min(delay, maxDirectRetryMs));
      },
    });
    if (!direct) this.#mix(publisher, output);
    else if (output === this.composite) this.#directPublisher = connectionId;
  }

  /** After `delayMs`, `output` encodes `publisher` directly if it is still the only one it shows. */
  #tryDirectLater(publisher: Publisher, output: HlsOutput, delayMs: number): void {
    this.#cancelDirectTry(output);
    const timer = setTimeout(() => {
      this.#directTries.delete(output);
      const alone =
        output === this.composite
          ? this.#publishers.size === 1 && this.#publishers.has(publisher.feed.publisherId)
          : publisher.output === output && this.#publishers.get(publisher.feed.publisherId) === publisher;
      if (this.#closed || !alone || output.direct) return;
      this.#log.info({ publisher: publisher.feed.publisherId }, 'trying direct encoding again');
      this.#encodeDirect(publisher, output);
    }, delayMs);
    this.#directTries.set(output, timer);
  }

  #cancelDirectTry(output: HlsOutput): void {
    clearTimeout(this.#directTries.get(output));
    this.#directTries.delete(output);
  }

  /** A playlist showing this publisher mixes it: its decoded pictures and sound go there (decoded from now on). */
  #mix(publisher: Publisher, output: HlsOutput): void {
    const { feed, fanOut, mixedIn } = publisher;
    const connectionId = feed.publisherId;
    if (this.#closed || this.#publishers.get(connectionId) !== publisher || mixedIn.has(output)) return;
    const sink = output.addSource({ connectionId, clientId: feed.clientId });
    mixedIn.set(output, sink);
    fanOut.sinks.add(sink);
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

  /** The publisher is encoded directly in `output` now: out of its mix, and not decoded if nothing else mixes it. */
  #unmix(publisher: Publisher, output: HlsOutput): void {
    const sink = publisher.mixedIn.get(output);
    if (sink === undefined) return;
    publisher.mixedIn.delete(output);
    publisher.fanOut.sinks.delete(sink);
    output.removeSource(publisher.feed.publisherId);
    const { decoder } = publisher;
    if (decoder === undefined || publisher.fanOut.sinks.size > 0) return;
    publisher.decoder = undefined;
    const stopping = decoder.close();
    this.#ending.add(stopping);
    void stopping.then(() => this.#ending.delete(stopping));
  }

  async #endPublisher(publisher: Publisher): Promise<void> {
    const connectionId = publisher.feed.publisherId;
    // While the channel closes, the composite ends as it is; otherwise the mixer goes on without the publisher.
    if (!this.#closed && this.#directPublisher === connectionId) this.composite?.endDirect('publisher left');
    this.composite?.removeSource(connectionId);
    publisher.fanOut.sinks.clear();
    publisher.mixedIn.clear();
    await publisher.decoder?.close();
    if (publisher.output !== undefined) {
      await publisher.output.close();
      this.#events.outputEnded(publisher.output);
    }
  }
}
