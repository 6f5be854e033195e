/**
 * `/watch`: plays a channel's playlist, given as its URL or its 32-hex id (the form, or `?src=`), in hls.js with
 * low latency, or natively where only the browser can (Safari, iOS). Shows how far behind the live edge it plays,
 * the variant, and what the player is doing; the viewer can choose a variant and jump back to the live edge. It
 * recovers by itself: a channel that has not started yet is waited for, network and media errors are retried.
 */
import Hls, { type ErrorData, type Level } from 'hls.js';
import { announce, byId, formatBitrate, h } from '../common.ts';
import { bufferedAhead, catchUp, catchUpRate, startCatchUpPosition } from '../watch/live-edge.ts';

const app = byId('app');
const hlsMimeType = 'application/vnd.apple.mpegurl';

/** How often the distance to the live edge is shown again. */
const readoutIntervalMs = 500;
/** A channel not live yet answers 404: asked again this often (growing to the maximum). */
const waitingRetryMs = { first: 1000, max: 5000 };
/** A failed load is retried after a delay doubling from `first` to `max`. */
const networkRetryMs = { first: 1000, max: 8000 };
/** Fatal network errors in a row that startLoad() may retry before the whole player is made anew. */
const restartsBeforeRecreate = 3;
/** Media errors within this window count together; the third makes the player anew. */
const mediaErrorWindowMs = 10_000;
const recreateDelayMs = 2000;

type PlayerState =
  'loading' | 'waiting' | 'playing' | 'buffering' | 'paused' | 'ended' | 'retrying' | 'error';
const stateLabels: Record<PlayerState, string> = {
  loading: 'Loading…',
  waiting: 'Waiting for the broadcast',
  playing: 'Playing',
  buffering: 'Buffering…',
  paused: 'Paused',
  ended: 'The broadcast has ended',
  retrying: 'Reconnecting…',
  error: 'Cannot play',
};

/**
 * The playlist URL meant by what was typed: a bare 32-hex id is a playlist of this server; otherwise an http(s)
 * URL (absolute or relative to this page) whose path ends in `.m3u8`. Undefined when it is neither.
 */
function playlistUrlFrom(text: string): string | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-f]{32}$/i.test(trimmed)) return `${location.origin}/hls/${trimmed.toLowerCase()}/index.m3u8`;
  let url: URL;
  try {
    url = new URL(trimmed, location.href);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.pathname.endsWith('.m3u8') ? url.href : undefined;
}

const delayFor = (attempt: number, policy: { first: number; max: number }): number =>
  Math.min(policy.first * 2 ** attempt, policy.max);

const describeLevel = (level: Level): string =>
  `${level.width}×${level.height}${level.frameRate > 0 ? ` ${Math.round(level.frameRate)} fps` : ''}, ${formatBitrate(level.bitrate)}`;

// The page: a form for the playlist, then the player with its controls and readouts.
const sourceInput = h('input', {
  id: 'src',
  type: 'text',
  inputMode: 'url',
  autocomplete: 'off',
  required: true,
  placeholder: 'https://…/hls/…/index.m3u8',
  'aria-describedby': 'src-hint',
});
const sourceForm = h(
  'form',
  { className: 'card', id: 'source-form' },
  h('label', { htmlFor: 'src' }, 'Playlist URL or id'),
  h(
    'p',
    { className: 'hint', id: 'src-hint' },
    'A channel’s playlist_url (…/hls/<id>/index.m3u8) or just its 32-character id.',
  ),
  h('div', { className: 'url' }, sourceInput, h('button', { type: 'submit' }, 'Play')),
);
const video = h('video', {
  id: 'video',
  muted: true,
  autoplay: true,
  playsInline: true,
  controls: true,
  'aria-label': 'Live video',
});
const unmuteButton = h('button', { type: 'button', id: 'unmute', className: 'secondary' }, 'Unmute');
const liveButton = h('button', { type: 'button', id: 'go-live', className: 'secondary' }, 'Go live');
const qualitySelect = h('select', { id: 'quality' });
const stateText = h('dd', { id: 'player-state' }, '—');
const latencyText = h('dd', { id: 'latency' }, '—');
const variantText = h('dd', { id: 'variant' }, '—');
const playerSection = h(
  'section',
  { className: 'card', id: 'player', 'aria-label': 'Player', hidden: true },
  video,
  h(
    'div',
    { className: 'watch-controls' },
    unmuteButton,
    liveButton,
    h('div', { className: 'watch-quality' }, h('label', { htmlFor: 'quality' }, 'Quality'), qualitySelect),
  ),
  h(
    'dl',
    { className: 'stats' },
    h('dt', {}, 'State'),
    stateText,
    h('dt', {}, 'Behind live edge'),
    latencyText,
    h('dt', {}, 'Variant'),
    variantText,
  ),
);
// h() leaves out `false` props, so this one is set directly: an id or URL is no prose to spell-check.
sourceInput.spellcheck = false;
app.append(sourceForm, playerSection);

/** One playlist being played; `stop()` ends it for good (a new playlist gets a new Player). */
class Player {
  readonly url: string;
  #hls: Hls | undefined;
  #native = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #state: PlayerState = 'loading';
  /** 404s of the playlist in a row: the channel has not started (or has ended). */
  #waitingAttempts = 0;
  /** Fatal network errors in a row, reset by media that arrives. */
  #networkFailures = 0;
  #mediaErrorTimes: number[] = [];
  /** Whether playback has begun since hls.js was made: the catch-up is for the start only. */
  #started = false;

  constructor(url: string) {
    this.url = url;
  }

  start(): void {
    if (Hls.isSupported()) this.#createHls();
    else if (video.canPlayType(hlsMimeType) !== '') {
      this.#native = true;
      void this.#startNative();
    } else
      this.setState('error', 'This browser cannot play HLS: try a recent Chrome, Edge, Firefox or Safari.');
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#hls?.destroy();
    this.#hls = undefined;
    if (video.playbackRate === catchUp.rate) video.playbackRate = 1;
    if (this.#native) {
      video.removeAttribute('src');
      video.load();
    }
  }

  get state(): PlayerState {
    return this.#state;
  }

  /** Seconds behind the live edge, when known. */
  latency(): number | undefined {
    if (this.#hls !== undefined) {
      return this.#hls.levels.length > 0 && video.readyState > 0 ? this.#hls.latency : undefined;
    }
    const end = this.#seekableEnd();
    return end === undefined ? undefined : Math.max(0, end - video.currentTime);
  }

  goLive(): void {
    const target = this.#hls !== undefined ? this.#hls.liveSyncPosition : this.#seekableEnd();
    if (target === null || target === undefined) return;
    video.currentTime = target;
    void video.play().catch(() => undefined);
  }

  chooseLevel(level: number): void {
    // nextLevel switches at the next fragment without flushing what is buffered: no stall; -1 is automatic.
    if (this.#hls !== undefined) this.#hls.nextLevel = level;
  }

  setState(state: PlayerState, message?: string): void {
    if (this.#stopped) return;
    this.#state = state;
    stateText.textContent = stateLabels[state];
    stateText.dataset['state'] = state;
    if (message !== undefined) announce(message, state === 'error' ? 'error' : 'info');
  }

  /** The video element says what it does; a load or recovery in progress is not overwritten by it. */
  onVideoEvent(type: string): void {
    if (type === 'playing') {
      if (!this.#started) {
        this.#started = true;
        this.#catchUpAtStart();
      }
      // Said once when playback begins or comes back, not after every short stall or pause.
      if (this.#state === 'loading' || this.#state === 'waiting' || this.#state === 'retrying') {
        announce('Playing.');
      }
      this.setState('playing');
    } else if (type === 'waiting' && this.#state === 'playing') this.setState('buffering');
    else if (type === 'pause' && !video.ended && this.#state === 'playing') this.setState('paused');
    else if (type === 'ended') this.setState('ended', 'The broadcast has ended.');
    else if (type === 'error' && this.#native) this.#retryNative(`the video element failed`);
    this.steer();
  }

  /**
   * While playing in hls.js, plays a little faster when a little behind its target latency (live-edge.ts; not
   * after a rewind); called at every timeupdate and video event. A rate other than 1 or the catch-up rate is
   * someone else's and is left alone.
   */
  steer(): void {
    if (video.playbackRate !== 1 && video.playbackRate !== catchUp.rate) return;
    const hls = this.#hls;
    const rate =
      hls === undefined || hls.targetLatency === null || video.paused || this.#state !== 'playing'
        ? 1
        : catchUpRate({
            latencySeconds: hls.latency,
            targetSeconds: hls.targetLatency,
            bufferedAheadSeconds: bufferedAhead(video.buffered, video.currentTime),
            rate: video.playbackRate,
          });
    if (rate !== video.playbackRate) video.playbackRate = rate;
  }

  /** Moves to hls.js's target latency if playback began well behind it and the target is already buffered. */
  #catchUpAtStart(): void {
    const hls = this.#hls;
    if (hls === undefined || hls.targetLatency === null || hls.liveSyncPosition === null) return;
    const position = startCatchUpPosition({
      latency: hls.latency,
      targetLatency: hls.targetLatency,
      targetPosition: hls.liveSyncPosition,
      currentTime: video.currentTime,
      buffered: video.buffered,
    });
    if (position !== undefined) video.currentTime = position;
  }

  #createHls(): void {
    const hls = new Hls({ lowLatencyMode: true, liveDurationInfinity: true });
    this.#hls = hls;
    this.#started = false;
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      this.#waitingAttempts = 0;
      showLevels(data.levels);
      void video.play().catch(() => {
        this.setState('paused', 'Press play to start: this browser does not start videos by itself.');
      });
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      const level = hls.levels[data.level];
      if (level !== undefined) {
        variantText.textContent = `${describeLevel(level)}${hls.autoLevelEnabled ? ' (auto)' : ''}`;
      }
    });
    hls.on(Hls.Events.FRAG_BUFFERED, () => {
      this.#networkFailures = 0;
      // Recovered without the video stalling (so without a 'playing' event): say so.
      if (this.#state === 'retrying' && !video.paused) this.onVideoEvent('playing');
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      this.#onError(hls, data);
    });
    hls.loadSource(this.url);
    hls.attachMedia(video);
  }

  #onError(hls: Hls, data: ErrorData): void {
    if (!data.fatal) {
      if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR && this.#state === 'playing') {
        this.setState('buffering');
      }
      return;
    }
    // Key-system, mux and other errors have no recovery of their own: the player is made anew.
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) this.#onNetworkError(hls, data);
    else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) this.#onMediaError(hls);
    else this.#recreate(`The player failed (${data.details}); starting it again.`);
  }

  #onNetworkError(hls: Hls, data: ErrorData): void {
    const status = data.response?.code;
    // Without the multivariant playlist there is nothing startLoad() could resume: load it anew.
    if (hls.levels.length === 0) {
      if (status === 404)
        this.#waitForBroadcast(() => {
          this.#recreateNow();
        });
      else {
        const delayMs = delayFor(this.#networkFailures++, networkRetryMs);
        this.setState(
          'retrying',
          `The playlist could not be loaded (${status ? `HTTP ${status}` : data.details}); trying again in ${Math.round(delayMs / 1000)} s.`,
        );
        this.#later(delayMs, () => {
          this.#recreateNow();
        });
      }
      return;
    }
    this.#networkFailures += 1;
    // A channel that stopped and started again has new media URIs: after a few failed resumptions (or at once
    // when the media playlist is gone), start from the multivariant playlist.
    if (this.#networkFailures > restartsBeforeRecreate || status === 404) {
      this.#recreate('The stream was interrupted; loading the playlist again.');
      return;
    }
    const delayMs = delayFor(this.#networkFailures - 1, networkRetryMs);
    this.setState(
      'retrying',
      `The connection failed (${data.details}); trying again in ${Math.round(delayMs / 1000)} s.`,
    );
    this.#later(delayMs, () => {
      hls.startLoad();
    });
  }

  #onMediaError(hls: Hls): void {
    const now = performance.now();
    this.#mediaErrorTimes = this.#mediaErrorTimes.filter((time) => now - time < mediaErrorWindowMs);
    this.#mediaErrorTimes.push(now);
    if (this.#mediaErrorTimes.length <= 2) {
      this.setState('retrying', 'The video could not be decoded; recovering.');
      hls.recoverMediaError();
    } else {
      this.#mediaErrorTimes = [];
      this.#recreate('The video keeps failing to decode; starting the player again.');
    }
  }

  #waitForBroadcast(retry: () => void): void {
    const delayMs = delayFor(this.#waitingAttempts++, waitingRetryMs);
    this.setState(
      'waiting',
      this.#state === 'waiting'
        ? undefined
        : 'Waiting for the broadcast: this channel is not live yet. It starts playing by itself when it is.',
    );
    this.#later(delayMs, retry);
  }

  #recreate(message: string): void {
    this.setState('retrying', message);
    this.#later(recreateDelayMs, () => {
      this.#recreateNow();
    });
  }

  #recreateNow(): void {
    this.#hls?.destroy();
    this.#hls = undefined;
    this.#createHls();
  }

  #later(delayMs: number, run: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (!this.#stopped) run();
    }, delayMs);
  }

  /**
   * Safari's own player tells no HTTP status, so the playlist is asked for first: a 404 means waiting for the
   * broadcast rather than an error.
   */
  async #startNative(): Promise<void> {
    let status: number;
    try {
      status = (await fetch(this.url, { cache: 'no-store' })).status;
    } catch {
      status = 0;
    }
    if (this.#stopped) return;
    if (status === 404) {
      this.#waitForBroadcast(() => void this.#startNative());
      return;
    }
    if (status !== 200) {
      this.#retryNative(status === 0 ? 'the server did not answer' : `HTTP ${status}`);
      return;
    }
    this.#waitingAttempts = 0;
    showLevels([]);
    video.src = this.url;
    void video.play().catch(() => {
      this.setState('paused', 'Press play to start: this browser does not start videos by itself.');
    });
  }

  #retryNative(reason: string): void {
    const delayMs = delayFor(this.#networkFailures++, networkRetryMs);
    this.setState(
      'retrying',
      `The playlist could not be played (${reason}); trying again in ${Math.round(delayMs / 1000)} s.`,
    );
    this.#later(delayMs, () => void this.#startNative());
  }

  #seekableEnd(): number | undefined {
    const { seekable } = video;
    return seekable.length > 0 ? seekable.end(seekable.length - 1) : undefined;
  }
}

/** The quality choice: Auto and each variant of the playlist (none for the browser's own player). */
function showLevels(levels: Level[]): void {
  qualitySelect.replaceChildren(
    h('option', { value: '-1' }, levels.length > 0 ? 'Auto' : 'Auto (chosen by the browser)'),
    ...levels.map((level, index) => h('option', { value: String(index) }, describeLevel(level))),
  );
  qualitySelect.disabled = levels.length === 0;
  variantText.textContent = '—';
}

let player: Player | undefined;

function play(text: string): void {
  const url = playlistUrlFrom(text);
  if (url === undefined) {
    sourceInput.setAttribute('aria-invalid', 'true');
    announce('Give the playlist URL (…/hls/<id>/index.m3u8) or its 32-character id.', 'error');
    sourceInput.focus();
    return;
  }
  sourceInput.removeAttribute('aria-invalid');
  player?.stop();
  const params = new URLSearchParams(location.search);
  params.set('src', text.trim());
  history.replaceState(null, '', `${location.pathname}?${params.toString()}`);
  playerSection.hidden = false;
  latencyText.textContent = '—';
  variantText.textContent = '—';
  showLevels([]);
  player = new Player(url);
  player.setState('loading', `Loading ${url}`);
  player.start();
}

sourceForm.addEventListener('submit', (event) => {
  event.preventDefault();
  play(sourceInput.value);
});

for (const type of ['playing', 'waiting', 'pause', 'ended', 'error']) {
  video.addEventListener(type, () => player?.onVideoEvent(type));
}
video.addEventListener('timeupdate', () => player?.steer());

const showMuted = (): void => {
  unmuteButton.textContent = video.muted ? 'Unmute' : 'Mute';
};
unmuteButton.addEventListener('click', () => {
  video.muted = !video.muted;
  if (!video.muted && video.paused) void video.play().catch(() => undefined);
});
video.addEventListener('volumechange', showMuted);

liveButton.addEventListener('click', () => player?.goLive());
qualitySelect.addEventListener('change', () => player?.chooseLevel(Number(qualitySelect.value)));

setInterval(() => {
  const latency = player?.latency();
  latencyText.textContent =
    latency === undefined || !Number.isFinite(latency) ? '—' : `${latency.toFixed(1)} s`;
  liveButton.disabled = latency === undefined;
}, readoutIntervalMs);

const initial = new URLSearchParams(location.search).get('src');
if (initial !== null && initial.trim() !== '') {
  sourceInput.value = initial.trim();
  play(initial);
} else sourceInput.focus();
