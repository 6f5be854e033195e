/**
 * `/broadcast`: go live from this browser's camera and microphone with the unmodified sora-js-sdk, in a channel
 * chosen or created here (with the API token) or given by a link (`?channel_id=&sora_url=`, no token needed);
 * while live, what is being sent (from the peer connection's outbound-rtp stats) and the playlist URL to share.
 */
import Sora from 'sora-js-sdk';
import {
  ApiError,
  announce,
  api,
  byId,
  copyButton,
  explain,
  explainConnectFailure,
  explainDisconnect,
  formatBitrate,
  h,
  requireToken,
  storedToken,
  type SoraCloseEventLike,
  type SoraPublisher,
} from '../common.ts';

/** DescribeChannel's answer, the fields this page reads. */
interface ChannelDescription {
  channel_id: string;
  type: string;
  state: string;
  sora_url: string;
  playlist_url?: string;
}

/** Where "Go live" sends: a channel and its signaling URL; the playlist URL when it is known. */
interface Target {
  channelId: string;
  soraUrl: string;
  playlistUrl: string | undefined;
  /** Shown when there is no playlist URL to show. */
  playlistHint: string;
}

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

const variantChoices: Record<string, { label: string; hls: unknown[] }> = {
  ladder: {
    label: '1280×720 at 2.5 Mbps and 640×360 at 800 kbps (default)',
    hls: [
      { video: { width: 1280, height: 720, fps: 30, bps: 2_500_000 }, audio: { bps: 128_000 } },
      { video: { width: 640, height: 360, fps: 30, bps: 800_000 }, audio: { bps: 64_000 } },
    ],
  },
  single: {
    label: '640×480 at 1 Mbps only (lighter for the server)',
    hls: [{ video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 64_000 } }],
  },
};

const app = byId('app');
const params = new URLSearchParams(location.search);
const linkedChannelId = params.get('channel_id') ?? '';
const linkedSoraUrl = params.get('sora_url') ?? '';
const isLinked = linkedChannelId !== '' && linkedSoraUrl !== '';

let stream: MediaStream | undefined;
let target: Target | undefined;
let connection: SoraPublisher | undefined;
let statsTimer: ReturnType<typeof setInterval> | undefined;

// Camera and microphone.
const cameraSelect = h('select', { id: 'camera' });
const microphoneSelect = h('select', { id: 'microphone' });
const codecSelect = h(
  'select',
  { id: 'codec' },
  h('option', { value: 'H264' }, 'H.264 (default)'),
  h('option', { value: 'VP8' }, 'VP8'),
  h('option', { value: 'VP9' }, 'VP9'),
);
const preview = h('video', {
  id: 'preview',
  muted: true,
  autoplay: true,
  playsInline: true,
  'aria-label': 'Camera preview',
});
const retryMedia = h(
  'button',
  { type: 'button', id: 'retry-media', className: 'secondary', hidden: true },
  'Try the camera again',
);

// Channel.
const channelCard = h(
  'section',
  { className: 'card', 'aria-labelledby': 'channel-heading' },
  h('h2', { id: 'channel-heading' }, 'Channel'),
);
const channelSelect = h('select', { id: 'channel' });
const channelInfo = h('p', { className: 'hint', id: 'channel-info' });
const variantsSelect = h(
  'select',
  { id: 'variants' },
  ...Object.entries(variantChoices).map(([value, choice]) => h('option', { value }, choice.label)),
);
const createButton = h('button', { type: 'button', id: 'create-channel' }, 'Create a channel');
const refreshButton = h('button', { type: 'button', className: 'secondary' }, 'Refresh the list');
const chooser = h(
  'div',
  { id: 'channel-chooser', hidden: true },
  h('label', { htmlFor: 'channel' }, 'Go live in'),
  channelSelect,
  channelInfo,
  refreshButton,
  h('h3', {}, 'A new channel'),
  h('label', { htmlFor: 'variants' }, 'HLS variants for viewers'),
  variantsSelect,
  createButton,
);

// Going live.
const goLiveButton = h('button', { type: 'button', id: 'go-live', disabled: true }, 'Go live');
const stopButton = h('button', { type: 'button', id: 'stop', className: 'danger', disabled: true }, 'Stop');
const liveState = h('dd', { id: 'live-state', className: 'state-idle' }, 'not live');
const videoBitrate = h('dd', { id: 'video-bitrate' }, '—');
const audioBitrate = h('dd', { id: 'audio-bitrate' }, '—');
const resolution = h('dd', { id: 'resolution' }, '—');
const codecShown = h('dd', { id: 'codec-sent' }, '—');
const playlistInput = h('input', { id: 'playlist-url', readOnly: true, value: '' });
const watchLink = h('a', { id: 'watch-link', href: '/watch' }, 'Watch it');
const playlistRow = h(
  'div',
  { id: 'playlist', hidden: true },
  h('label', { htmlFor: 'playlist-url' }, 'Playlist URL for viewers'),
  h(
    'div',
    { className: 'url' },
    playlistInput,
    copyButton('Copy', () => playlistInput.value),
    watchLink,
  ),
);
const playlistHint = h('p', { className: 'hint', id: 'playlist-hint' });

app.append(
  h(
    'div',
    { className: 'grid2 broadcast-layout' },
    h(
      'section',
      { className: 'card', 'aria-labelledby': 'media-heading' },
      h('h2', { id: 'media-heading' }, 'Camera and microphone'),
      preview,
      retryMedia,
      h('label', { htmlFor: 'camera' }, 'Camera'),
      cameraSelect,
      h('label', { htmlFor: 'microphone' }, 'Microphone'),
      microphoneSelect,
      h('label', { htmlFor: 'codec' }, 'Video codec'),
      codecSelect,
      h('p', { className: 'hint' }, 'Devices and codec can be changed while not live.'),
    ),
    h(
      'div',
      {},
      channelCard,
      h(
        'section',
        { className: 'card', 'aria-labelledby': 'live-heading' },
        h('h2', { id: 'live-heading' }, 'Go live'),
        goLiveButton,
        stopButton,
        h(
          'dl',
          { className: 'stats', id: 'live-stats' },
          h('dt', {}, 'State'),
          liveState,
          h('dt', {}, 'Video'),
          videoBitrate,
          h('dt', {}, 'Resolution'),
          resolution,
          h('dt', {}, 'Codec'),
          codecShown,
          h('dt', {}, 'Audio'),
          audioBitrate,
        ),
        playlistRow,
        playlistHint,
      ),
    ),
  ),
);

function updateControls(): void {
  const isBusy = connection !== undefined;
  goLiveButton.disabled = isBusy || stream === undefined || target === undefined;
  stopButton.disabled = !isBusy;
  for (const control of [cameraSelect, microphoneSelect, codecSelect, channelSelect, createButton]) {
    control.disabled = isBusy;
  }
}

function setLiveState(text: string, isLive = false): void {
  liveState.textContent = text;
  liveState.className = isLive ? 'state-live' : 'state-idle';
}

function setTarget(next: Target | undefined): void {
  target = next;
  const url = next?.playlistUrl;
  playlistRow.hidden = url === undefined;
  playlistInput.value = url ?? '';
  watchLink.href = url === undefined ? '/watch' : `/watch?src=${encodeURIComponent(url)}`;
  playlistHint.textContent = next === undefined ? 'Choose or create a channel first.' : next.playlistHint;
  playlistHint.hidden = url !== undefined;
  updateControls();
}

// --- Camera and microphone ---

async function openMedia(): Promise<void> {
  const video: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 } };
  if (cameraSelect.value !== '') video.deviceId = { exact: cameraSelect.value };
  const audio: MediaTrackConstraints | boolean =
    microphoneSelect.value === '' ? true : { deviceId: { exact: microphoneSelect.value } };
  try {
    const next = await navigator.mediaDevices.getUserMedia({ audio, video });
    for (const track of stream?.getTracks() ?? []) track.stop();
    stream = next;
    preview.srcObject = next;
    retryMedia.hidden = true;
    await fillDevices(next);
  } catch (error) {
    stream = undefined;
    preview.srcObject = null;
    retryMedia.hidden = false;
    announce(explain(error), 'error');
  }
  updateControls();
}

/** Device labels are only given once the page may use the devices: after the first getUserMedia. */
async function fillDevices(current: MediaStream): Promise<void> {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (select: HTMLSelectElement, kind: MediaDeviceKind, track: MediaStreamTrack | undefined) => {
    const name = kind === 'videoinput' ? 'Camera' : 'Microphone';
    const inUse = track?.getSettings().deviceId;
    select.replaceChildren(
      ...devices
        .filter((device) => device.kind === kind && device.deviceId !== '')
        .map((device, index) =>
          h(
            'option',
            { value: device.deviceId, selected: device.deviceId === inUse },
            device.label === '' ? `${name} ${index + 1}` : device.label,
          ),
        ),
    );
  };
  fill(cameraSelect, 'videoinput', current.getVideoTracks()[0]);
  fill(microphoneSelect, 'audioinput', current.getAudioTracks()[0]);
}

cameraSelect.addEventListener('change', () => void openMedia());
microphoneSelect.addEventListener('change', () => void openMedia());
retryMedia.addEventListener('click', () => void openMedia());

// --- Channel: from the link, or chosen and created with the API token ---

function targetOf(channel: ChannelDescription): Target {
  return {
    channelId: channel.channel_id,
    soraUrl: channel.sora_url,
    playlistUrl: channel.playlist_url,
    playlistHint:
      'This channel has no composite playlist: each broadcaster gets their own (ListPlaylistURLs).',
  };
}

function showLinkedChannel(): void {
  channelCard.append(
    h(
      'dl',
      { className: 'stats' },
      h('dt', {}, 'Channel'),
      h('dd', { id: 'linked-channel' }, linkedChannelId),
      h('dt', {}, 'Signaling'),
      h('dd', {}, linkedSoraUrl),
    ),
    h(
      'p',
      { className: 'hint' },
      'From the link you opened. ',
      h('a', { href: '/broadcast' }, 'Choose another'),
    ),
  );
  setTarget({
    channelId: linkedChannelId,
    soraUrl: linkedSoraUrl,
    playlistUrl: undefined,
    playlistHint:
      'The playlist URL for viewers came with the channel (CreateChannel’s playlist_url); the Admin page lists it.',
  });
  if (storedToken() === undefined) return;
  // With a kept token the playlist URL can be looked up; a channel of another token simply stays without it.
  void api<ChannelDescription>('Nagare_20261124.DescribeChannel', { channel_id: linkedChannelId }).then(
    (channel) => {
      if (target?.channelId === channel.channel_id)
        setTarget({ ...targetOf(channel), soraUrl: linkedSoraUrl });
    },
    () => undefined,
  );
}

let tokenForm: { refused(): void } | undefined;
let channels: ChannelDescription[] = [];

async function loadChannels(select?: string): Promise<void> {
  const previous = select ?? channelSelect.value;
  try {
    const { channel_ids } = await api<{ channel_ids: string[] }>('ImageFlux_20200729.ListChannelIDs', {});
    // A channel deleted between the two calls answers 404: it is simply left out.
    const described = await Promise.allSettled(
      channel_ids.map((id) => api<ChannelDescription>('Nagare_20261124.DescribeChannel', { channel_id: id })),
    );
    channels = described.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      chooser.hidden = true;
      setTarget(undefined);
      tokenForm?.refused();
    }
    announce(explain(error), 'error');
    return;
  }
  chooser.hidden = false;
  channelSelect.replaceChildren(
    ...channels.map((channel) =>
      h(
        'option',
        { value: channel.channel_id, selected: channel.channel_id === previous },
        `${channel.channel_id.slice(0, 12)}… · ${channel.state}${channel.type === 'composite' ? '' : ` · ${channel.type}`}`,
      ),
    ),
  );
  if (channels.length === 0) {
    channelSelect.append(h('option', { value: '' }, 'No channel yet: create one below'));
  }
  chooseChannel();
}

function chooseChannel(): void {
  const channel = channels.find((candidate) => candidate.channel_id === channelSelect.value);
  if (channel === undefined) {
    channelInfo.replaceChildren();
    setTarget(undefined);
    return;
  }
  const link = `/broadcast?${new URLSearchParams({ channel_id: channel.channel_id, sora_url: channel.sora_url })}`;
  channelInfo.replaceChildren(
    `${channel.type}, ${channel.state}. `,
    h('a', { href: link, id: 'channel-link' }, 'A link to go live in it'),
    ' without the token (keep it private: the channel_id is the right to broadcast).',
  );
  setTarget(targetOf(channel));
}

async function createChannel(): Promise<void> {
  const choice = variantChoices[variantsSelect.value] ?? variantChoices['ladder'];
  createButton.disabled = true;
  try {
    const created = await api<{ channel_id: string }>('ImageFlux_20180905.CreateChannel', {
      hls: choice?.hls,
    });
    await loadChannels(created.channel_id);
    announce(`Channel ${created.channel_id.slice(0, 12)}… created.`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) tokenForm?.refused();
    announce(explain(error), 'error');
  } finally {
    updateControls();
  }
}

channelSelect.addEventListener('change', chooseChannel);
refreshButton.addEventListener('click', () => void loadChannels());
createButton.addEventListener('click', () => void createChannel());

// --- Live ---

async function goLive(): Promise<void> {
  if (stream === undefined || target === undefined || connection !== undefined) return;
  const { channelId, soraUrl } = target;
  const conn = Sora.connection(soraUrl).sendonly(channelId, null, {
    videoCodecType: codecSelect.value as 'H264' | 'VP8' | 'VP9',
    audio: true,
    video: true,
  }) as SoraPublisher;
  connection = conn;
  conn.on('disconnect', (event) => {
    ended(conn, event);
  });
  updateControls();
  setLiveState('connecting…');
  announce('Connecting…');
  try {
    await conn.connect(stream);
  } catch (error) {
    if (connection !== conn) return; // already ended (the disconnect event said why) or stopped
    connection = undefined;
    setLiveState('not live');
    updateControls();
    announce(explainConnectFailure(error), 'error');
    return;
  }
  if (connection !== conn) return;
  setLiveState('live', true);
  announce(`Live in channel ${channelId.slice(0, 12)}…`);
  startStats(conn);
  stopButton.focus();
  refreshList();
}

/** The chooser shows each channel's state: after going live or stopping it has changed. */
function refreshList(): void {
  if (!isLinked && !chooser.hidden) void loadChannels();
}

/** The server or the network ended the connection: say why. */
function ended(conn: SoraPublisher, event: SoraCloseEventLike): void {
  if (connection !== conn) return;
  connection = undefined;
  stopStats();
  setLiveState('ended');
  updateControls();
  announce(`No longer live. ${explainDisconnect(event)}`, 'error');
  refreshList();
}

async function stop(): Promise<void> {
  const conn = connection;
  if (conn === undefined) return;
  connection = undefined; // the disconnect event of our own stop needs no explanation
  stopStats();
  setLiveState('stopped');
  updateControls();
  await conn.disconnect();
  announce('Stopped: no longer live.');
  goLiveButton.focus();
  refreshList();
}

goLiveButton.addEventListener('click', () => void goLive());
stopButton.addEventListener('click', () => void stop());
addEventListener('pagehide', () => void connection?.disconnect());

// --- What is being sent, once a second ---

function startStats(conn: SoraPublisher): void {
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
    if (connection !== conn) return;
    const all = [...(report.values() as Iterable<RtpStats>)];
    const outbound = (kind: string) =>
      all.find((stats) => stats.type === 'outbound-rtp' && stats.kind === kind);
    const video = outbound('video');
    videoBitrate.textContent = bitrateOf(video);
    audioBitrate.textContent = bitrateOf(outbound('audio'));
    resolution.textContent =
      video?.frameWidth === undefined || video.frameHeight === undefined
        ? '—'
        : `${video.frameWidth}×${video.frameHeight}${video.framesPerSecond === undefined ? '' : ` at ${video.framesPerSecond} fps`}`;
    const codec =
      video?.codecId === undefined ? undefined : (report.get(video.codecId) as RtpStats | undefined);
    codecShown.textContent = codec?.mimeType?.replace(/^video\//, '') ?? '—';
  };
  void sample();
  statsTimer = setInterval(() => void sample(), 1000);
}

function stopStats(): void {
  clearInterval(statsTimer);
  statsTimer = undefined;
  for (const dd of [videoBitrate, audioBitrate, resolution, codecShown]) dd.textContent = '—';
}

// --- Start ---

if (isLinked) showLinkedChannel();
else {
  tokenForm = requireToken(channelCard, () => void loadChannels());
  channelCard.append(chooser);
  setTarget(undefined);
}
void openMedia();
