/** `/`: what this server is, whether it is well, and where to go. */
import { announce, api, byId, h, storedToken } from '../common.ts';

const app = byId('app');

const links: [string, string, string][] = [
  ['/broadcast', 'Broadcast', 'Go live from your camera and microphone; get the playlist URL to share.'],
  ['/watch', 'Watch', 'Play a channel’s playlist in low-latency HLS.'],
  ['/room', 'Room', 'Join a channel with others: see and hear each other in real time.'],
  ['/admin', 'Admin', 'Channels, their state and publishers; create and delete.'],
];

const state = h('dl', { className: 'stats', id: 'server-state' });
app.append(
  h(
    'section',
    { className: 'card', 'aria-labelledby': 'about' },
    h('h2', { id: 'about' }, 'A live streaming server'),
    h(
      'p',
      {},
      'Broadcasters publish from a browser over WebRTC (Sora-compatible signaling, sora-js-sdk); viewers watch ',
      'HLS and Low-Latency HLS in hls.js, Safari, ffplay or VLC. Several broadcasters in one channel see and hear ',
      'each other, and viewers see them together.',
    ),
    state,
  ),
  h(
    'nav',
    { 'aria-label': 'What to do', className: 'grid2' },
    ...links.map(([href, title, text]) =>
      h(
        'a',
        { href, className: 'card', id: `go-${title.toLowerCase()}` },
        h('h2', {}, title),
        h('p', {}, text),
      ),
    ),
  ),
);

function row(term: string, value: string): void {
  state.append(h('dt', {}, term), h('dd', {}, value));
}

async function showState(): Promise<void> {
  try {
    const response = await fetch('/healthz');
    const health = (await response.json()) as { ok?: boolean; version?: string };
    row('Server', health.ok === true ? 'running' : 'not well');
    row('Version', health.version ?? 'unknown');
  } catch {
    announce('The server did not answer its health check.', 'error');
    return;
  }
  if (storedToken() === undefined) {
    row('Channels', 'enter the API token on the Admin page to see them');
    return;
  }
  try {
    const { channel_ids } = await api<{ channel_ids: string[] }>('ImageFlux_20200729.ListChannelIDs', {});
    row('Channels', String(channel_ids.length));
  } catch {
    row('Channels', 'the kept API token was not accepted');
  }
}

void showState();
