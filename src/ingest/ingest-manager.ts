/**
 * Keeps one PublisherFeed per publishing connection of each channel, fed by the SFU's published tracks,
 * with one channel clock origin per channel. Consumers (the media pipeline) subscribe per channel.
 */
import type { Logger } from 'pino';
import { monotonicMs } from '../lib/clock.ts';
import type { PublishedTrack } from '../sfu/published-track.ts';
import { PublisherFeed } from './publisher-feed.ts';

export type FeedListener = (feed: PublisherFeed) => void;

interface ChannelIngest {
  epochMs: number;
  feeds: Map<string, PublisherFeed>;
}

export interface TrackTotals {
  packets: number;
  bytes: number;
  frames: number;
  /** Packets never received (declared lost by the jitter buffer). */
  lost: number;
  late: number;
  duplicates: number;
  /** Gaps filled after later packets had arrived: reordering, or NACK retransmissions. */
  recovered: number;
  keyframeRequests: number;
  /** NACKs the transport sent upstream (as last read from it). */
  nacksSent: number;
  /** Sender Reports not used for lip sync: NTP times of whole seconds (publisher-clock.ts). */
  senderReportsIgnored: number;
}

export interface IngestTotals {
  audio: TrackTotals;
  video: TrackTotals;
  malformedRtp: number;
}

const emptyTrack = (): TrackTotals => ({
  packets: 0,
  bytes: 0,
  frames: 0,
  lost: 0,
  late: 0,
  duplicates: 0,
  recovered: 0,
  keyframeRequests: 0,
  nacksSent: 0,
  senderReportsIgnored: 0,
});

function addFeedStats(totals: IngestTotals, feed: PublisherFeed): void {
  const stats = feed.stats();
  totals.malformedRtp += stats.malformedRtp;
  for (const kind of ['audio', 'video'] as const) {
    const track = stats.tracks[kind];
    if (track === undefined) continue;
    const into = totals[kind];
    into.packets += track.packets;
    into.bytes += track.bytes;
    into.frames += track.frames;
    into.lost += track.jitter.lost;
    into.late += track.jitter.late;
    into.duplicates += track.jitter.duplicates;
    into.recovered += track.jitter.recovered;
    into.keyframeRequests += track.keyframeRequests;
    into.nacksSent += stats.transport[kind]?.nacksSent ?? 0;
    into.senderReportsIgnored += stats.clock[kind]?.srIgnored ?? 0;
  }
}

export class IngestManager {
  readonly #channels = new Map<string, ChannelIngest>();
  /** Totals of the feeds that have closed. */
  readonly #retired: IngestTotals = { audio: emptyTrack(), video: emptyTrack(), malformedRtp: 0 };
  readonly #listeners = new Set<FeedListener>();
  readonly #log: Logger;
  readonly #recordDir: string | undefined;

  constructor(log: Logger, recordDir: string | undefined) {
    this.#log = log;
    this.#recordDir = recordDir;
  }

  /** The SFU got a new upstream track: feed it to its publisher's ingest. */
  addTrack(channelId: string, track: PublishedTrack): void {
    let channel = this.#channels.get(channelId);
    if (channel === undefined) {
      channel = { epochMs: monotonicMs(), feeds: new Map() };
      this.#channels.set(channelId, channel);
    }
    const feed = channel.feeds.get(track.publisherId);
    if (feed === undefined) {
      const created = new PublisherFeed({
        channelId,
        publisherId: track.publisherId,
        clientId: track.clientId,
        epochMs: channel.epochMs,
        log: this.#log.child({ channel: channelId.slice(0, 8), publisher: track.publisherId }),
        recordDir: this.#recordDir,
      });
      const feeds = channel.feeds;
      feeds.set(track.publisherId, created);
      created.onClose(() => {
        feeds.delete(created.publisherId);
        addFeedStats(this.#retired, created);
      });
      created.addTrack(track);
      for (const listener of this.#listeners) listener(created);
      return;
    }
    feed.addTrack(track);
  }

  /** Called for every new publisher feed. */
  onFeed(listener: FeedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Totals over every publisher ever fed, for /metrics: they only grow. */
  totals(): IngestTotals {
    const totals = structuredClone(this.#retired);
    for (const channel of this.#channels.values()) {
      for (const feed of channel.feeds.values()) addFeedStats(totals, feed);
    }
    return totals;
  }

  feeds(channelId: string): PublisherFeed[] {
    return [...(this.#channels.get(channelId)?.feeds.values() ?? [])];
  }

  /** The channel clock origin, once the channel has had a publisher. */
  epochMs(channelId: string): number | undefined {
    return this.#channels.get(channelId)?.epochMs;
  }

  /** The channel is gone for good: close its feeds and forget its clock. */
  async closeChannel(channelId: string): Promise<void> {
    const channel = this.#channels.get(channelId);
    this.#channels.delete(channelId);
    await Promise.all([...(channel?.feeds.values() ?? [])].map((feed) => feed.close()));
  }

  async close(): Promise<void> {
    const feeds = [...this.#channels.values()].flatMap((channel) => [...channel.feeds.values()]);
    this.#channels.clear();
    await Promise.all(feeds.map((feed) => feed.close()));
  }
}
