/**
 * The broadcast page's "Go live" card: Go live and Stop with the unmodified sora-js-sdk (sendonly), why a
 * connection ended when the server or the network ended it, the live figures, and the playlist URL to share with
 * a copy button and a watch link.
 */
import Sora from 'sora-js-sdk';
import {
  announce,
  copyButton,
  explainConnectFailure,
  explainDisconnect,
  h,
  type SoraCloseEventLike,
  type SoraPublisher,
} from '../common.ts';
import type { Target } from './channel-card.ts';
import { LiveStats } from './live-stats.ts';
import type { VideoCodec } from './media-card.ts';

export interface LiveCardOptions {
  /** What the camera and microphone give, if open. */
  stream: () => MediaStream | undefined;
  /** Where to go live, if chosen. */
  target: () => Target | undefined;
  /** The video codec to send. */
  codec: () => VideoCodec;
  /** Sets every control of the page from its state (the connection began or ended). */
  updateControls: () => void;
  /** Went live or stopped being live: the channel's state has changed. */
  onLiveChange: () => void;
}

export class LiveCard {
  readonly section: HTMLElement;
  readonly #goLiveButton = h('button', { type: 'button', id: 'go-live', disabled: true }, 'Go live');
  readonly #stopButton = h(
    'button',
    { type: 'button', id: 'stop', className: 'danger', disabled: true },
    'Stop',
  );
  readonly #stats = new LiveStats();
  readonly #playlistInput = h('input', { id: 'playlist-url', readOnly: true, value: '' });
  readonly #watchLink = h('a', { id: 'watch-link', href: '/watch' }, 'Watch it');
  readonly #playlistRow = h(
    'div',
    { id: 'playlist', hidden: true },
    h('label', { htmlFor: 'playlist-url' }, 'Playlist URL for viewers'),
    h(
      'div',
      { className: 'url' },
      this.#playlistInput,
      copyButton('Copy', () => this.#playlistInput.value),
      this.#watchLink,
    ),
  );
  readonly #playlistHint = h('p', { className: 'hint', id: 'playlist-hint' });
  readonly #options: LiveCardOptions;
  #connection: SoraPublisher | undefined;

  constructor(options: LiveCardOptions) {
    this.#options = options;
    this.section = h(
      'section',
      { className: 'card', 'aria-labelledby': 'live-heading' },
      h('h2', { id: 'live-heading' }, 'Go live'),
      this.#goLiveButton,
      this.#stopButton,
      this.#stats.element,
      this.#playlistRow,
      this.#playlistHint,
    );
    this.#goLiveButton.addEventListener('click', () => void this.#goLive());
    this.#stopButton.addEventListener('click', () => void this.#stop());
    addEventListener('pagehide', () => void this.#connection?.disconnect());
  }

  /** Connecting or live. */
  get isBusy(): boolean {
    return this.#connection !== undefined;
  }

  updateButtons(): void {
    const isBusy = this.isBusy;
    this.#goLiveButton.disabled =
      isBusy || this.#options.stream() === undefined || this.#options.target() === undefined;
    this.#stopButton.disabled = !isBusy;
  }

  /** The playlist URL of the target, or why there is none to show. */
  showPlaylist(target: Target | undefined): void {
    const url = target?.playlistUrl;
    this.#playlistRow.hidden = url === undefined;
    this.#playlistInput.value = url ?? '';
    this.#watchLink.href = url === undefined ? '/watch' : `/watch?src=${encodeURIComponent(url)}`;
    this.#playlistHint.textContent =
      target === undefined ? 'Choose or create a channel first.' : target.playlistHint;
    this.#playlistHint.hidden = url !== undefined;
  }

  async #goLive(): Promise<void> {
    const stream = this.#options.stream();
    const target = this.#options.target();
    if (stream === undefined || target === undefined || this.#connection !== undefined) return;
    const { channelId, soraUrl } = target;
    const conn = Sora.connection(soraUrl).sendonly(channelId, null, {
      videoCodecType: this.#options.codec(),
      audio: true,
      video: true,
    }) as SoraPublisher;
    this.#connection = conn;
    conn.on('disconnect', (event) => {
      this.#ended(conn, event);
    });
    this.#options.updateControls();
    this.#stats.setState('connecting…');
    announce('Connecting…');
    try {
      await conn.connect(stream);
    } catch (error) {
      if (this.#connection !== conn) return; // already ended (the disconnect event said why) or stopped
      this.#connection = undefined;
      this.#stats.setState('not live');
      this.#options.updateControls();
      announce(explainConnectFailure(error), 'error');
      return;
    }
    if (this.#connection !== conn) return;
    this.#stats.setState('live', true);
    announce(`Live in channel ${channelId.slice(0, 12)}…`);
    this.#stats.start(conn, () => this.#connection === conn);
    this.#stopButton.focus();
    this.#options.onLiveChange();
  }

  /** The server or the network ended the connection: say why. */
  #ended(conn: SoraPublisher, event: SoraCloseEventLike): void {
    if (this.#connection !== conn) return;
    this.#connection = undefined;
    this.#stats.stop();
    this.#stats.setState('ended');
    this.#options.updateControls();
    announce(`No longer live. ${explainDisconnect(event)}`, 'error');
    this.#options.onLiveChange();
  }

  async #stop(): Promise<void> {
    const conn = this.#connection;
    if (conn === undefined) return;
    this.#connection = undefined; // the disconnect event of our own stop needs no explanation
    this.#stats.stop();
    this.#stats.setState('stopped');
    this.#options.updateControls();
    await conn.disconnect();
    announce('Stopped: no longer live.');
    this.#goLiveButton.focus();
    this.#options.onLiveChange();
  }
}
