/**
 * `/room`: join a channel sendrecv with the unmodified sora-js-sdk and see and hear everyone else in it: one tile
 * per other connection (the SDK's `track` event; the MediaStream id is the other's connection_id), microphone and
 * camera mute, leave. With a kept API token, the channel's composite playlist URL for viewers.
 */
import Sora from 'sora-js-sdk';
import {
  ApiError,
  announce,
  api,
  byId,
  copyButton,
  defaultSoraUrl,
  explain,
  explainConnectFailure,
  explainDisconnect,
  h,
  storedToken,
  type SoraPublisher,
} from '../common.ts';

const app = byId('app');
const params = new URLSearchParams(location.search);

let connection: SoraPublisher | undefined;
let local: MediaStream | undefined;
/** The others' tiles by connection_id (= their MediaStream id). */
const tiles = new Map<string, HTMLElement>();

// Joining.
const channelInput = h('input', {
  id: 'room-channel',
  required: true,
  autocomplete: 'off',
  spellcheck: false,
  value: params.get('channel_id') ?? '',
});
const soraUrlInput = h('input', {
  id: 'room-sora-url',
  type: 'url',
  required: true,
  spellcheck: false,
  value: params.get('sora_url') ?? defaultSoraUrl(),
});
const joinButton = h('button', { type: 'submit', id: 'join' }, 'Join');
const joinForm = h(
  'form',
  { className: 'card', 'aria-labelledby': 'join-heading' },
  h('h2', { id: 'join-heading' }, 'Join a channel'),
  h('label', { htmlFor: 'room-channel' }, 'Channel ID'),
  channelInput,
  h('label', { htmlFor: 'room-sora-url' }, 'Signaling URL (sora_url)'),
  soraUrlInput,
  h(
    'p',
    { className: 'hint' },
    'Everyone who joins the same channel sees and hears the others. Your camera and microphone are sent to them.',
  ),
  joinButton,
);

// In the room.
const muteMicrophone = h(
  'button',
  { type: 'button', id: 'mute-microphone', className: 'secondary', 'aria-pressed': 'false' },
  'Mute microphone',
);
const muteCamera = h(
  'button',
  { type: 'button', id: 'mute-camera', className: 'secondary', 'aria-pressed': 'false' },
  'Turn off camera',
);
const leaveButton = h('button', { type: 'button', id: 'leave', className: 'danger' }, 'Leave');
const roomCount = h('span', { id: 'room-count' });
const selfVideo = h('video', {
  id: 'self-video',
  muted: true,
  autoplay: true,
  playsInline: true,
  'aria-label': 'Your camera',
});
const selfCaption = h('figcaption', {}, 'You');
const selfTile = h('figure', { className: 'tile', id: 'self-tile' }, selfVideo, selfCaption);
const tileGrid = h('div', { className: 'tiles room-tiles', id: 'tiles' }, selfTile);
const inviteInput = h('input', { id: 'room-link', readOnly: true });
const playlistInput = h('input', { id: 'playlist-url', readOnly: true });
const watchLink = h('a', { id: 'watch-link', href: '/watch' }, 'Watch it');
const playlistRow = h(
  'div',
  { hidden: true, id: 'playlist' },
  h('label', { htmlFor: 'playlist-url' }, 'Playlist URL for viewers (everyone in the room, composed)'),
  h(
    'div',
    { className: 'url' },
    playlistInput,
    copyButton('Copy', () => playlistInput.value),
    watchLink,
  ),
);
const playlistHint = h('p', { className: 'hint', id: 'playlist-hint' });
const room = h(
  'section',
  { className: 'card room', hidden: true, id: 'room', 'aria-labelledby': 'room-heading' },
  h('h2', { id: 'room-heading' }, 'In the room ', roomCount),
  h('div', {}, muteMicrophone, muteCamera, leaveButton),
  tileGrid,
  h('label', { htmlFor: 'room-link' }, 'Invite others with this link'),
  h(
    'div',
    { className: 'url' },
    inviteInput,
    copyButton('Copy', () => inviteInput.value),
  ),
  playlistRow,
  playlistHint,
);
app.append(joinForm, room);

function addTile(remote: MediaStream): void {
  if (tiles.has(remote.id)) return;
  const video = h('video', {
    autoplay: true,
    playsInline: true,
    'aria-label': `Participant ${remote.id.slice(0, 8)}`,
  });
  video.srcObject = remote;
  const tile = h(
    'figure',
    { className: 'tile', 'data-connection-id': remote.id },
    video,
    h('figcaption', {}, h('span', { className: 'tile-id' }, remote.id)),
  );
  tiles.set(remote.id, tile);
  tileGrid.append(tile);
}

function removeTile(connectionId: string): void {
  const tile = tiles.get(connectionId);
  if (tile === undefined) return;
  tiles.delete(connectionId);
  const video = tile.querySelector('video');
  if (video !== null) video.srcObject = null;
  tile.remove();
}

function showCount(people: number | undefined): void {
  roomCount.textContent =
    people === undefined ? '' : `(${people === 1 ? 'only you' : `${people} people, you included`})`;
}

function selfLabel(): void {
  const off = [
    muteMicrophone.getAttribute('aria-pressed') === 'true' ? 'microphone muted' : undefined,
    muteCamera.getAttribute('aria-pressed') === 'true' ? 'camera off' : undefined,
  ].filter((text) => text !== undefined);
  const id = connection?.connectionId ?? undefined;
  selfCaption.replaceChildren(
    ['You', ...off].join(' · '),
    id === undefined ? '' : h('span', { className: 'tile-id' }, id),
  );
  if (id !== undefined) selfTile.dataset['connectionId'] = id;
}

/** A mute button: pressed = that kind of track is switched off (sent as silence or black, not removed). */
function toggle(button: HTMLButtonElement, kind: 'audio' | 'video'): void {
  const isPressed = button.getAttribute('aria-pressed') !== 'true';
  for (const track of local?.getTracks() ?? []) if (track.kind === kind) track.enabled = !isPressed;
  button.setAttribute('aria-pressed', String(isPressed));
  selfLabel();
}

async function showViewers(channelId: string): Promise<void> {
  playlistRow.hidden = true;
  playlistHint.hidden = false;
  if (storedToken() === undefined) {
    playlistHint.textContent =
      'Viewers watch the channel’s playlist URL, given when the channel was created (playlist_url). ' +
      'With the API token entered on the Broadcast or Admin page, it shows here too.';
    return;
  }
  playlistHint.textContent = 'Looking up the playlist URL…';
  try {
    const channel = await api<{ playlist_url?: string }>('Nagare_20261124.DescribeChannel', {
      channel_id: channelId,
    });
    if (channel.playlist_url === undefined) {
      playlistHint.textContent =
        'This channel has no composite playlist: each broadcaster has their own (ListPlaylistURLs).';
      return;
    }
    playlistInput.value = channel.playlist_url;
    watchLink.href = `/watch?src=${encodeURIComponent(channel.playlist_url)}`;
    playlistRow.hidden = false;
    playlistHint.hidden = true;
  } catch (error) {
    playlistHint.textContent =
      error instanceof ApiError && error.status === 404
        ? 'The kept API token does not own this channel: the playlist URL is with whoever created it.'
        : `The playlist URL could not be looked up: ${explain(error)}`;
  }
}

/** Back to the join form; the local tracks are stopped. */
function leftRoom(): void {
  connection = undefined;
  for (const track of local?.getTracks() ?? []) track.stop();
  local = undefined;
  selfVideo.srcObject = null;
  for (const id of [...tiles.keys()]) removeTile(id);
  for (const button of [muteMicrophone, muteCamera]) button.setAttribute('aria-pressed', 'false');
  delete selfTile.dataset['connectionId'];
  showCount(undefined);
  room.hidden = true;
  joinForm.hidden = false;
  joinButton.disabled = false;
  joinButton.focus();
}

async function join(channelId: string, soraUrl: string): Promise<void> {
  joinButton.disabled = true;
  announce('Starting the camera and microphone…');
  try {
    local = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
    });
  } catch (error) {
    joinButton.disabled = false;
    announce(explain(error), 'error');
    return;
  }
  const conn = Sora.connection(soraUrl).sendrecv(channelId, null, {
    audio: true,
    video: true,
  }) as SoraPublisher;
  connection = conn;
  conn.on('track', (event) => {
    const remote = event.streams[0];
    if (connection === conn && remote !== undefined) addTile(remote);
  });
  conn.on('removetrack', (event) => {
    const remote = event.target;
    if (remote instanceof MediaStream && remote.getTracks().length === 0) removeTile(remote.id);
  });
  conn.on('notify', (message) => {
    if (connection !== conn) return;
    if (message.channel_connections !== undefined) showCount(message.channel_connections);
    // The re-offer that removes the leaver's tracks follows; the notify alone already says they are gone.
    if (message.event_type === 'connection.destroyed' && message.connection_id !== undefined) {
      removeTile(message.connection_id);
    }
  });
  conn.on('disconnect', (event) => {
    if (connection !== conn) return;
    leftRoom();
    announce(`You are out of the room. ${explainDisconnect(event)}`, 'error');
  });
  selfVideo.srcObject = local;
  const link = `${location.origin}/room?${new URLSearchParams({ channel_id: channelId, sora_url: soraUrl })}`;
  inviteInput.value = link;
  history.replaceState(null, '', link);
  joinForm.hidden = true;
  room.hidden = false;
  selfLabel();
  void showViewers(channelId);
  announce('Joining…');
  try {
    await conn.connect(local);
  } catch (error) {
    if (connection !== conn) return;
    leftRoom();
    announce(explainConnectFailure(error), 'error');
    return;
  }
  if (connection !== conn) return;
  selfLabel();
  announce('You are in the room.');
  leaveButton.focus();
}

async function leave(): Promise<void> {
  const conn = connection;
  if (conn === undefined) return;
  leftRoom(); // first, so that the disconnect event of our own leave is not taken for a failure
  await conn.disconnect();
  announce('You left the room.');
}

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void join(channelInput.value.trim(), soraUrlInput.value.trim());
});
muteMicrophone.addEventListener('click', () => {
  toggle(muteMicrophone, 'audio');
});
muteCamera.addEventListener('click', () => {
  toggle(muteCamera, 'video');
});
leaveButton.addEventListener('click', () => void leave());
addEventListener('pagehide', () => void connection?.disconnect());

if (channelInput.value === '') channelInput.focus();
else joinButton.focus();
