/**
 * `GET /metrics`: Prometheus text exposition (prom-client), read from the server's own counters at each scrape.
 * It asks for an API token (Bearer, as Prometheus' `authorization` scrape setting sends it): channel counts and
 * traffic are not for everyone.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChannelRegistry } from '../channel/channel-registry.ts';
import type { EventWebhook } from '../channel/event-webhook.ts';
import type { IngestManager } from '../ingest/ingest-manager.ts';
import { mediaCounters } from '../media/media-counters.ts';
import type { MediaManager } from '../media/media-manager.ts';
import type { OriginCounters } from '../origin/hls-origin.ts';
import type { Sfu } from '../sfu/sfu.ts';
import type { SignalingServer } from '../signaling/signaling-server.ts';

export interface MetricsSources {
  registry: ChannelRegistry;
  sfu: Sfu;
  ingest: IngestManager;
  media: MediaManager;
  /** Every origin's figures together: the main thread's and the HLS workers'. */
  origin: OriginFigures;
  signaling: SignalingServer;
  events: EventWebhook;
}

/** A counter whose value is read from a source that only grows: set to it at each scrape. */
function readCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  read: () => [Record<string, string>, number][],
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

/** The largest of some channels' figures in ms, as a gauge's one value in seconds; none without channels. */
function largestSeconds(valuesMs: readonly number[]): [Record<string, string>, number][] {
  return valuesMs.length === 0 ? [] : [[{}, Math.max(...valuesMs) / 1000]];
}

function readGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  read: () => [Record<string, string>, number][],
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

export interface OriginFigures {
  counters(): OriginCounters;
  readonly waitingRequests: number;
  /** HLS workers started again after one died. */
  readonly workerRestarts: number;
  /** The HLS workers' V8 heaps in use (0 without workers). */
  readonly workersHeapUsedBytes: number;
}

export function createMetrics(sources: MetricsSources): Registry {
  const { registry, sfu, ingest, media, origin, signaling, events } = sources;
  const metrics = new Registry();
  // Nine metrics read the ingest totals, which walk every publisher: once per scrape is enough.
  let totalsAt = Number.NEGATIVE_INFINITY;
  let cachedTotals = ingest.totals();
  const ingestTotals = (): ReturnType<IngestManager['totals']> => {
    const now = Date.now();
    if (now - totalsAt > 100) {
      cachedTotals = ingest.totals();
      totalsAt = now;
    }
    return cachedTotals;
  };
  // The event loop's lag is sampled every 100 ms, not prom-client's 10: a timer waking the loop a hundred times a
  // second was half of what an idle server cost (0.01 of a core). Stalls of the loop that matter to the ingest are
  // caught every 20 ms while publishers are fed (loop-stalls.ts).
  collectDefaultMetrics({ register: metrics, prefix: 'nagare_', eventLoopMonitoringPrecision: 100 });

  readGauge(metrics, 'nagare_channels', 'Channels not deleted, by state.', ['state'], () => {
    const live = registry.liveCount;
    return [
      [{ state: 'live' }, live],
      [{ state: 'idle' }, Math.max(0, registry.countActive() - live)],
    ];
  });
  readGauge(metrics, 'nagare_connections', 'WebRTC connections, by role.', ['role'], () =>
    Object.entries(sfu.roleCounts()).map(([role, count]) => [{ role }, count]),
  );
  readGauge(metrics, 'nagare_hls_playlists_encoding', 'Playlists being encoded now.', [], () => [
    [{}, media.outputCount()],
  ]);
  readGauge(
    metrics,
    'nagare_hls_playlists_direct',
    'Playlists encoded directly now: one publisher, one ffmpeg from its frames to every variant, nothing mixed.',
    [],
    () => [[{}, media.directCount()]],
  );
  readGauge(
    metrics,
    'nagare_encoding_pixels_per_second',
    'Output pixels per second being encoded (what --transcode-budget limits).',
    [],
    () => [[{}, media.encodingCost()]],
  );
  readGauge(
    metrics,
    'nagare_hls_live_edge_seconds',
    'How far the newest listed media is behind real time now (grows between parts and while a stream stalls): the largest over running channels.',
    [],
    () => largestSeconds(media.liveEdges()),
  );
  readGauge(
    metrics,
    'nagare_hls_ingest_to_playlist_seconds',
    'Ingest to playlist latency: how far behind real time the newest part was when it was listed; the largest over running channels.',
    [],
    () => largestSeconds(media.listingLatencies()),
  );
  readGauge(
    metrics,
    'nagare_mixer_delay_seconds',
    'How far behind the channel clock the mixer composes now (it adapts between --mix-delay-min and --mix-delay to how early pictures and sound come): the largest over running channels.',
    [],
    () => largestSeconds(media.mixerDelays()),
  );

  readGauge(
    metrics,
    'nagare_encoder_speed',
    'Media seconds encoded per second of real time over the last 10 s (1 keeps up; below 1 the encoder falls behind): the slowest running encoder.',
    [],
    () => {
      const speeds = media.encoderSpeeds();
      return speeds.length === 0 ? [] : [[{}, Math.min(...speeds)]];
    },
  );

  const ingestCounter = (
    name: string,
    help: string,
    pick: (t: ReturnType<IngestManager['totals']>['video']) => number,
  ) => {
    readCounter(metrics, name, help, ['kind'], () => {
      const totals = ingestTotals();
      return [
        [{ kind: 'audio' }, pick(totals.audio)],
        [{ kind: 'video' }, pick(totals.video)],
      ];
    });
  };
  ingestCounter('nagare_rtp_packets_total', 'RTP packets received from publishers.', (t) => t.packets);
  ingestCounter('nagare_rtp_bytes_total', 'RTP payload bytes received from publishers.', (t) => t.bytes);
  ingestCounter('nagare_rtp_lost_packets_total', 'RTP packets never received (after NACKs).', (t) => t.lost);
  ingestCounter(
    'nagare_rtp_recovered_packets_total',
    'Gaps filled late: reordering or NACK retransmission.',
    (t) => t.recovered,
  );
  ingestCounter(
    'nagare_jitter_buffer_late_packets_total',
    'Packets dropped for arriving too late.',
    (t) => t.late,
  );
  ingestCounter(
    'nagare_jitter_buffer_duplicate_packets_total',
    'Duplicate packets dropped.',
    (t) => t.duplicates,
  );
  ingestCounter(
    'nagare_rtp_nacks_sent_total',
    'NACKs sent to publishers for missing packets.',
    (t) => t.nacksSent,
  );
  ingestCounter(
    'nagare_rtcp_sender_reports_ignored_total',
    'Sender Reports not used for lip sync because their NTP time is whole seconds (werift publishers): such tracks are timed by their arrival.',
    (t) => t.senderReportsIgnored,
  );
  ingestCounter('nagare_frames_total', 'Frames assembled from RTP.', (t) => t.frames);
  ingestCounter(
    'nagare_keyframe_requests_total',
    'Keyframe requests (PLI) sent to publishers.',
    (t) => t.keyframeRequests,
  );
  readCounter(
    metrics,
    'nagare_rtp_malformed_packets_total',
    'RTP packets that could not be parsed.',
    [],
    () => [[{}, ingestTotals().malformedRtp]],
  );

  readCounter(
    metrics,
    'nagare_ffmpeg_restarts_total',
    'ffmpeg processes that died and were restarted.',
    ['process'],
    () => [
      [{ process: 'decoder' }, mediaCounters.decoderRestarts],
      [{ process: 'encoder' }, mediaCounters.encoderRestarts],
    ],
  );
  readCounter(metrics, 'nagare_decoder_starts_total', 'Publisher decoders started.', [], () => [
    [{}, mediaCounters.decoderStarts],
  ]);
  readCounter(metrics, 'nagare_direct_encoder_starts_total', 'Direct encoders started.', [], () => [
    [{}, mediaCounters.directStarts],
  ]);
  readCounter(
    metrics,
    'nagare_direct_encoder_fallbacks_total',
    "Direct encoders that ended on their own (their ffmpeg died, the publisher's video stopped, no video or sound came, they fell behind); the mixer took over.",
    [],
    () => [[{}, mediaCounters.directFallbacks]],
  );
  readCounter(
    metrics,
    'nagare_dropped_total',
    'Media dropped under back-pressure: encoded frames before a slow decoder, pictures before a slow encoder.',
    ['stage'],
    () => [
      [{ stage: 'decoder_input' }, mediaCounters.decoderVideoDropped],
      [{ stage: 'encoder_input' }, mediaCounters.encoderPicturesDropped],
    ],
  );

  readCounter(
    metrics,
    'nagare_pictures_released_unheld_total',
    'Releases of pooled raw pictures that nobody held: a bookkeeping bug (a picture may have been overwritten); stays 0.',
    [],
    () => [[{}, mediaCounters.picturesReleasedUnheld]],
  );

  readCounter(metrics, 'nagare_hls_requests_total', 'HLS requests answered, by resource.', ['resource'], () =>
    Object.entries(origin.counters().requests).map(([resource, count]) => [{ resource }, count]),
  );
  readCounter(metrics, 'nagare_hls_bytes_total', 'Bytes of playlists and media served over HLS.', [], () => [
    [{}, origin.counters().bytes],
  ]);
  readCounter(
    metrics,
    'nagare_hls_requests_refused_total',
    'HLS requests answered 503 because --max-hls-requests were in progress.',
    [],
    () => [[{}, origin.counters().refused]],
  );
  readCounter(
    metrics,
    'nagare_hls_playlist_rule_violations_total',
    'Media playlists that broke a rule of RFC 8216bis and were served anyway (a bug worth reporting).',
    [],
    () => [[{}, origin.counters().ruleViolations]],
  );
  readCounter(
    metrics,
    'nagare_hls_worker_restarts_total',
    'HLS worker threads (--hls-port) started again after one died.',
    [],
    () => [[{}, origin.workerRestarts]],
  );
  readGauge(
    metrics,
    'nagare_hls_workers_heap_used_bytes',
    "The HLS worker threads' V8 heaps in use (nagare_nodejs_heap_size_used_bytes is the main thread's).",
    [],
    () => [[{}, origin.workersHeapUsedBytes]],
  );
  readGauge(
    metrics,
    'nagare_hls_waiting_requests',
    'Blocking playlist and part requests held now.',
    [],
    () => [[{}, origin.waitingRequests]],
  );

  readCounter(metrics, 'nagare_signaling_sessions_total', 'Signaling WebSocket sessions opened.', [], () => [
    [{}, signaling.counters.sessions],
  ]);
  readCounter(
    metrics,
    'nagare_signaling_refused_total',
    'Signaling messages or upgrades refused, by why.',
    ['reason'],
    () => [
      [{ reason: 'bad_message' }, signaling.counters.badMessages],
      [{ reason: 'flood' }, signaling.counters.floods],
      [{ reason: 'origin' }, signaling.counters.refusedOrigins],
    ],
  );
  readCounter(
    metrics,
    'nagare_event_webhooks_total',
    'Event webhook deliveries, by result.',
    ['result'],
    () => {
      const stats = events.stats();
      return [
        [{ result: 'sent' }, stats.sent],
        [{ result: 'failed' }, stats.failed],
      ];
    },
  );
  return metrics;
}
