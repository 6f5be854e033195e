/**
 * `/broadcast`: go live from this browser's camera and microphone with the unmodified sora-js-sdk, in a channel
 * chosen or created here (with the API token) or given by a link (`?channel_id=&sora_url=`, no token needed);
 * while live, what is being sent (from the peer connection's outbound-rtp stats) and the playlist URL to share.
 * The cards live in web/src/broadcast/; this lays them out and wires them together.
 */
import { ChannelCard } from '../broadcast/channel-card.ts';
import { LiveCard } from '../broadcast/live-card.ts';
import { MediaCard } from '../broadcast/media-card.ts';
import { byId, h } from '../common.ts';

const app = byId('app');
const params = new URLSearchParams(location.search);
const linkedChannelId = params.get('channel_id') ?? '';
const linkedSoraUrl = params.get('sora_url') ?? '';
const isLinked = linkedChannelId !== '' && linkedSoraUrl !== '';

const mediaCard = new MediaCard(updateControls);
const channelCard = new ChannelCard({
  onTarget: (target) => {
    liveCard.showPlaylist(target);
    updateControls();
  },
  updateControls,
});
const liveCard = new LiveCard({
  stream: () => mediaCard.stream,
  target: () => channelCard.target,
  codec: () => mediaCard.codec,
  updateControls,
  // The chooser shows each channel's state: after going live or stopping it has changed.
  onLiveChange: () => {
    if (!isLinked) channelCard.refreshList();
  },
});

app.append(
  h(
    'div',
    { className: 'grid2 broadcast-layout' },
    mediaCard.section,
    h('div', {}, channelCard.section, liveCard.section),
  ),
);

/** Go live needs a camera and a channel; while connecting or live, nothing else can be changed. */
function updateControls(): void {
  liveCard.updateButtons();
  const isBusy = liveCard.isBusy;
  mediaCard.setDisabled(isBusy);
  channelCard.setDisabled(isBusy);
}

if (isLinked) channelCard.showLinked(linkedChannelId, linkedSoraUrl);
else channelCard.useToken();
void mediaCard.open();
