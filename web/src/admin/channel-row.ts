/**
 * One row of the admin page's channel table: id and type, state, publishers, variants, audience (viewers, bit
 * rates from the traffic counters' growth between two refreshes, live edge) and the Broadcast, Watch and Delete
 * actions. Updated in place, so a focused link or button keeps its focus.
 */
import { formatBitrate, h } from '../common.ts';
import {
  type Channel,
  type Connection,
  type Traffic,
  type Variant,
  readTraffic,
  shortId,
} from './channel.ts';

/** `640×480 30 fps, 1.00 Mbps` and, less prominent, `h264_high, audio 64 kbps`. */
const describeVariant = ({ video, audio }: Variant): HTMLLIElement =>
  h(
    'li',
    {},
    `${video.width}×${video.height} ${video.fps} fps, ${formatBitrate(video.bps)} `,
    h(
      'span',
      { className: 'hint' },
      `${video.codec === undefined ? '' : `${video.codec}, `}audio ${formatBitrate(audio.bps)}`,
    ),
  );

interface Sample {
  ingestBytes: number;
  hlsBytes: number;
  atMs: number;
}

export class ChannelRow {
  readonly tr: HTMLTableRowElement;
  readonly #cells: Record<
    'channel' | 'state' | 'publishers' | 'variants' | 'audience' | 'actions',
    HTMLElement
  >;
  readonly #onDelete: (channelId: string) => void;
  #sample: Sample | undefined;
  #linksFor = '';

  /** `onDelete` runs when the row's Delete button is pressed. */
  constructor(channelId: string, onDelete: (channelId: string) => void) {
    const cell = (label: string): HTMLTableCellElement => h('td', { 'data-label': label });
    this.#cells = {
      channel: cell('Channel'),
      state: cell('State'),
      publishers: cell('Publishers'),
      variants: cell('Variants'),
      audience: cell('Audience'),
      actions: cell('Actions'),
    };
    this.#onDelete = onDelete;
    this.tr = h('tr', { 'data-channel-id': channelId }, ...Object.values(this.#cells));
  }

  update(channel: Channel, publishers: Connection[], nowMs: number): void {
    const { channel: id, state, publishers: who, variants, audience } = this.#cells;
    id.replaceChildren(
      h('code', { title: channel.channel_id }, shortId(channel.channel_id)),
      h(
        'div',
        { className: 'hint' },
        `${channel.type}, created ${new Date(channel.created_at).toLocaleString()}`,
      ),
    );
    state.replaceChildren(
      h('span', { className: `badge state-${channel.state}` }, channel.state),
      h(
        'div',
        { className: 'hint' },
        `${channel.connections} connection${channel.connections === 1 ? '' : 's'}`,
      ),
    );
    who.replaceChildren(
      publishers.length === 0
        ? h('span', { className: 'hint' }, 'none')
        : h(
            'ul',
            { className: 'plain' },
            ...publishers.map((p) =>
              h('li', {}, h('code', { title: p.connection_id }, shortId(p.client_id ?? p.connection_id))),
            ),
          ),
    );
    const segment = channel.hls[0]?.durationSeconds;
    variants.replaceChildren(
      h('ul', { className: 'plain' }, ...channel.hls.map(describeVariant)),
      ...(segment === undefined ? [] : [h('div', { className: 'hint' }, `${segment} s segments`)]),
    );
    audience.replaceChildren(this.#audience(readTraffic(channel.traffic), nowMs));
    this.#updateLinks(channel);
  }

  #audience(traffic: Traffic | undefined, nowMs: number): Node {
    if (traffic === undefined) {
      this.#sample = undefined;
      return h('span', { className: 'hint' }, 'not reported');
    }
    const previous = this.#sample;
    this.#sample = { ingestBytes: traffic.ingest_bytes, hlsBytes: traffic.hls_bytes, atMs: nowMs };
    // Rates come from the counters' growth between two refreshes; a counter that went back (the channel
    // started again) gives none this time.
    const rate = (now: number, before: number | undefined): string => {
      if (previous === undefined || before === undefined || now < before || nowMs <= previous.atMs)
        return '…';
      return formatBitrate(((now - before) * 8 * 1000) / (nowMs - previous.atMs));
    };
    const edge = traffic.live_edge_ms === null ? '—' : `${(traffic.live_edge_ms / 1000).toFixed(1)} s`;
    return h(
      'dl',
      { className: 'stats compact' },
      h('dt', {}, 'Viewers'),
      h('dd', { className: 'viewers' }, String(traffic.viewers)),
      h('dt', {}, 'In'),
      h('dd', { className: 'bitrate-in' }, rate(traffic.ingest_bytes, previous?.ingestBytes)),
      h('dt', {}, 'Out'),
      h('dd', { className: 'bitrate-out' }, rate(traffic.hls_bytes, previous?.hlsBytes)),
      h('dt', {}, 'Live edge'),
      h('dd', { className: 'live-edge' }, edge),
    );
  }

  /** The links and the delete button change only when the URLs do, so a focused one keeps its focus. */
  #updateLinks(channel: Channel): void {
    const key = `${channel.sora_url} ${channel.playlist_url ?? ''}`;
    if (key === this.#linksFor) return;
    this.#linksFor = key;
    const name = shortId(channel.channel_id);
    const broadcast = new URLSearchParams({ channel_id: channel.channel_id, sora_url: channel.sora_url });
    this.#cells.actions.replaceChildren(
      h(
        'div',
        { className: 'actions' },
        h(
          'a',
          { href: `/broadcast?${broadcast.toString()}`, 'aria-label': `Broadcast to ${name}` },
          'Broadcast',
        ),
        channel.playlist_url !== undefined &&
          h(
            'a',
            {
              href: `/watch?${new URLSearchParams({ src: channel.playlist_url }).toString()}`,
              'aria-label': `Watch ${name}`,
            },
            'Watch',
          ),
        h(
          'button',
          {
            type: 'button',
            className: 'danger',
            'aria-label': `Delete ${name}`,
            onclick: () => {
              this.#onDelete(channel.channel_id);
            },
          },
          'Delete',
        ),
      ),
    );
  }
}
