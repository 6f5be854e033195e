/**
 * The broadcast page's live figures: the state (not live, connecting, live, ended, stopped) and, once a second
 * while live, what is being sent from the peer connection's outbound-rtp stats: video and audio bit rates,
 * resolution and frame rate, codec.
 */
import { type SoraPublisher, formatBitrate, h } from '../common.ts';

/** The RTCStats fields read here (lib.dom types the report's values as `any`). */
interface RtpStats {
  type: string;
  kind?: string;
  timestamp: number;
  bytesSent?: number;
  frameWidth?: number;
  frameHeight?: number;
  framesPerSecond?: number;
  codecId?: string;
  mimeType?: string;
}

export class LiveStats {
  readonly #liveState = h('dd', { id: 'live-state', className: 'state-idle' }, 'not live');
  readonly #videoBitrate = h('dd', { id: 'video-bitrate' }, '—');
  readonly #audioBitrate = h('dd', { id: 'audio-bitrate' }, '—');
  readonly #resolution = h('dd', { id: 'resolution' }, '—');
  readonly #codecShown = h('dd', { id: 'codec-sent' }, '—');
  readonly element = h(
    'dl',
    { className: 'stats', id: 'live-stats' },
    h('dt', {}, 'State'),
    this.#liveState,
    h('dt', {}, 'Video'),
    this.#videoBitrate,
    h('dt', {}, 'Resolution'),
    this.#resolution,
    h('dt', {}, 'Codec'),
    this.#codecShown,
    h('dt', {}, 'Audio'),
    this.#audioBitrate,
  );
  #statsTimer: ReturnType<typeof setInterval> | undefined;

  setState(text: string, isLive = false): void {
    this.#liveState.textContent = text;
    this.#liveState.className = isLive ? 'state-live' : 'state-idle';
  }

  /** Sample `conn` now and once a second; a sample that arrives when `conn` is no longer current is dropped. */
  start(conn: SoraPublisher, isCurrent: () => boolean): void {
    const previous = new Map<string, { bytes: number; timestamp: number }>();
    const bitrateOf = (stats: RtpStats | undefined): string => {
      if (stats?.kind === undefined || stats.bytesSent === undefined) return '—';
      const before = previous.get(stats.kind);
      previous.set(stats.kind, { bytes: stats.bytesSent, timestamp: stats.timestamp });
      if (before === undefined || stats.timestamp <= before.timestamp) return '…';
      return formatBitrate(
        ((stats.bytesSent - before.bytes) * 8 * 1000) / (stats.timestamp - before.timestamp),
      );
    };
    const sample = async () => {
      if (conn.pc === null) return;
      const report = await conn.pc.getStats();
      if (!isCurrent()) return;
      const all = [...(report.values() as Iterable<RtpStats>)];
      const outbound = (kind: string) =>
        all.find((stats) => stats.type === 'outbound-rtp' && stats.kind === kind);
      const video = outbound('video');
      this.#videoBitrate.textContent = bitrateOf(video);
      this.#audioBitrate.textContent = bitrateOf(outbound('audio'));
      this.#resolution.textContent =
        video?.frameWidth === undefined || video.frameHeight === undefined
          ? '—'
          : `${video.frameWidth}×${video.frameHeight}${video.framesPerSecond === undefined ? '' : ` at ${video.framesPerSecond} fps`}`;
      const codec =
        video?.codecId === undefined ? undefined : (report.get(video.codecId) as RtpStats | undefined);
      this.#codecShown.textContent = codec?.mimeType?.replace(/^video\//, '') ?? '—';
    };
    void sample();
    this.#statsTimer = setInterval(() => void sample(), 1000);
  }

  /** No more samples; the figures go back to —. */
  stop(): void {
    clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
    for (const dd of [this.#videoBitrate, this.#audioBitrate, this.#resolution, this.#codecShown])
      dd.textContent = '—';
  }
}
