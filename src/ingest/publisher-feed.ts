/**
 * The adapter between the SFU and the pure ingest: one publisher's published tracks in, timed and lip-synced
 * encoded frames out to listeners (the decoder of the media pipeline). Owns a poll timer; sends keyframe
 * requests upstream through the published track (whose own limiter also covers SFU receivers' requests).
 */
import type { Logger } from 'pino';
import { monotonicMs } from '../lib/clock.ts';
import { loopStalledMs, loopStalls } from '../lib/loop-stalls.ts';
import type { Codec, EncodedFrame } from '../rtp/encoded-frame.ts';
import { ParseError } from '../rtp/parse-error.ts';
import {
  defaultPublisherIngestOptions,
  PublisherIngest,
  type IngestEvent,
  type IngestKind,
} from '../rtp/publisher-ingest.ts';
import { parseSenderReports } from '../rtp/rtcp.ts';
import type { PublishedTrack, TransportStats } from '../sfu/published-track.ts';
import { FrameRecorder } from './frame-recorder.ts';

export type FrameListener = (frame: EncodedFrame) => void;

export interface PublisherFeedOptions {
  channelId: string;
  publisherId: string;
  clientId?: string | undefined;
  /** The channel clock's origin (monotonic ms). */
  epochMs: number;
  log: Logger;
  /** Debug: write the frames to Matroska files in this directory. */
  recordDir?: string | undefined;
}

/** How often the transport's NACK/PLI/loss counters are read for the totals (they are read on demand too). */
const transportReadIntervalMs = 2000;

export class PublisherFeed {
  readonly channelId: string;
  readonly publisherId: string;
  readonly clientId: string | undefined;
  readonly #ingest: PublisherIngest;
  readonly #log: Logger;
  readonly #tracks = new Map<IngestKind, { track: PublishedTrack; detach: () => void }>();
  readonly #listeners = new Set<FrameListener>();
  readonly #closeListeners = new Set<() => void>();
  readonly #recorder: FrameRecorder | undefined;
  /** The ingest's next poll, set for its next deadline (nextDeadlineMs), and when that is. */
  #pollTimer: NodeJS.Timeout | undefined;
  #pollAtMs: number | undefined;
  readonly #transportTimer: NodeJS.Timeout;
  /** The transport's counters as last read: kept after close, so totals survive the publisher. */
  #transport: Partial<Record<IngestKind, TransportStats>> = {};
  #closed = false;
  #listenerFaults = 0;

  constructor(options: PublisherFeedOptions) {
    this.channelId = options.channelId;
    this.publisherId = options.publisherId;
    this.clientId = options.clientId;
    this.#log = options.log;
    this.#ingest = new PublisherIngest(options.epochMs, {
      ...defaultPublisherIngestOptions,
      clock: {
        ...defaultPublisherIngestOptions.clock,
        stalledMs: loopStalledMs,
      },
    });
    this.#recorder =
      options.recordDir === undefined
        ? undefined
        : new FrameRecorder(options.recordDir, `${options.channelId.slice(0, 8)}-${options.publisherId}`);
    // Gaps in arrivals while the loop itself was held up are not the publisher's pauses (publisher-clock.ts):
    // the loop is watched while any publisher is fed.
    loopStalls.start();
    this.#transportTimer = setInterval(() => {
      void this.#readTransport();
    }, transportReadIntervalMs);
    this.#transportTimer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  addTrack(track: PublishedTrack): void {
    if (this.#closed || this.#tracks.has(track.kind)) return;
    const codec: Codec = track.kind === 'audio' ? 'opus' : (track.videoCodec ?? 'H264');
    this.#ingest.addTrack(codec);
    const kind = track.kind;
    const offPacket = track.onPacket((rtp) => {
      const { header } = rtp;
      const events = this.#ingest.rtp(
        kind,
        {
          payloadType: header.payloadType,
          sequenceNumber: header.sequenceNumber,
          timestamp: header.timestamp,
          ssrc: header.ssrc,
          marker: header.marker,
          payload: rtp.payload,
        },
        monotonicMs(),
      );
      this.#deliver(events);
    });
    const offRtcp = track.onRtcp((bytes) => {
      try {
        for (const report of parseSenderReports(bytes))
          this.#ingest.senderReport(kind, report, monotonicMs());
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        this.#ingest.countMalformed('rtcp');
      }
    });
    const offClose = track.onClose(() => {
      this.#removeTrack(kind);
    });
    this.#tracks.set(kind, {
      track,
      detach: () => {
        offPacket();
        offRtcp();
        offClose();
      },
    });
    this.#schedulePoll();
  }

  hasTrack(kind: IngestKind): boolean {
    return this.#tracks.has(kind);
  }

  onFrame(listener: FrameListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onClose(listener: () => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** A consumer needs a keyframe (e.g. its decoder restarted). */
  requestKeyframe(reason: string): void {
    this.#deliver(this.#ingest.requestKeyframe(monotonicMs(), reason));
  }

  stats(): ReturnType<PublisherIngest['stats']> & {
    listenerFaults: number;
    recorderDropped: number;
    /** The transport's counters as last read (at most a couple of seconds old). */
    transport: Partial<Record<IngestKind, TransportStats>>;
  } {
    return {
      ...this.#ingest.stats(),
      listenerFaults: this.#listenerFaults,
      recorderDropped: this.#recorder?.dropped ?? 0,
      transport: this.#transport,
    };
  }

  /** NACKs and PLIs the transport sent upstream and packets it lost, per track (werift's receiver counts them). */
  async transportStats(): Promise<Partial<Record<IngestKind, TransportStats>>> {
    const out: Partial<Record<IngestKind, TransportStats>> = {};
    for (const [kind, { track }] of this.#tracks) out[kind] = await track.transportStats();
    return out;
  }

  async #readTransport(): Promise<void> {
    try {
      const read = await this.transportStats();
      // A track that left keeps its last figures.
      this.#transport = { ...this.#transport, ...read };
    } catch (err) {
      this.#log.debug({ err }, 'transport stats unreadable');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    loopStalls.stop();
    clearTimeout(this.#pollTimer);
    clearInterval(this.#transportTimer);
    for (const { detach } of this.#tracks.values()) detach();
    this.#tracks.clear();
    this.#listeners.clear();
    await this.#recorder?.close();
    for (const listener of this.#closeListeners) listener();
    this.#closeListeners.clear();
  }

  #removeTrack(kind: IngestKind): void {
    this.#tracks.get(kind)?.detach();
    this.#tracks.delete(kind);
    if (this.#tracks.size === 0) void this.close();
  }

  #deliver(events: IngestEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'frame':
          this.#recorder?.write(event.frame);
          for (const listener of this.#listeners) {
            try {
              listener(event.frame);
            } catch (err) {
              this.#listenerFaults += 1;
              if (this.#listenerFaults === 1) this.#log.error({ err }, 'frame listener failed');
            }
          }
          break;
        case 'keyframe-request':
          this.#tracks.get('video')?.track.requestKeyframe();
          break;
        case 'loss':
          break;
      }
    }
    this.#schedulePoll();
  }

  /**
   * A timer for the ingest's next deadline (a packet waiting out a gap before it, a keyframe request to repeat),
   * and none while it has none. Polling every 20 ms instead woke the process 50 times a second per publisher for
   * nothing most of the time, each wake 70 to 120 µs of CPU on these machines.
   */
  #schedulePoll(): void {
    if (this.#closed) return;
    const deadline = this.#ingest.nextDeadlineMs();
    if (deadline === undefined || (this.#pollAtMs !== undefined && this.#pollAtMs <= deadline)) return;
    clearTimeout(this.#pollTimer);
    this.#pollAtMs = deadline;
    this.#pollTimer = setTimeout(
      () => {
        this.#pollTimer = undefined;
        this.#pollAtMs = undefined;
        this.#deliver(this.#ingest.poll(monotonicMs()));
      },
      Math.max(0, deadline - monotonicMs()),
    );
    this.#pollTimer.unref();
  }
}
