/**
 * The broadcast page's "Channel" card: where "Go live" sends. Either the channel of the link the page was opened
 * with (its playlist URL looked up when a token is kept), or, with the API token, one chosen from the token's
 * channels or created here with a choice of HLS variants, with a link to go live in it without the token.
 */
import { ApiError, announce, api, explain, h, requireToken, storedToken } from '../common.ts';

/** DescribeChannel's answer, the fields this page reads. */
interface ChannelDescription {
  channel_id: string;
  type: string;
  state: string;
  sora_url: string;
  playlist_url?: string;
}

/** Where "Go live" sends: a channel and its signaling URL; the playlist URL when it is known. */
export interface Target {
  channelId: string;
  soraUrl: string;
  playlistUrl: string | undefined;
  /** Shown when there is no playlist URL to show. */
  playlistHint: string;
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

function targetOf(channel: ChannelDescription): Target {
  return {
    channelId: channel.channel_id,
    soraUrl: channel.sora_url,
    playlistUrl: channel.playlist_url,
    playlistHint:
      'This channel has no composite playlist: each broadcaster gets their own (ListPlaylistURLs).',
  };
}

export interface ChannelCardOptions {
  /** The target changed (`undefined`: none yet). */
  onTarget: (target: Target | undefined) => void;
  /** Sets every control of the page from its state (after a create, which disabled its button meanwhile). */
  updateControls: () => void;
}

export class ChannelCard {
  readonly section = h(
    'section',
    { className: 'card', 'aria-labelledby': 'channel-heading' },
    h('h2', { id: 'channel-heading' }, 'Channel'),
  );
  readonly #channelSelect = h('select', { id: 'channel' });
  readonly #channelInfo = h('p', { className: 'hint', id: 'channel-info' });
  readonly #variantsSelect = h(
    'select',
    { id: 'variants' },
    ...Object.entries(variantChoices).map(([value, choice]) => h('option', { value }, choice.label)),
  );
  readonly #createButton = h('button', { type: 'button', id: 'create-channel' }, 'Create a channel');
  readonly #refreshButton = h('button', { type: 'button', className: 'secondary' }, 'Refresh the list');
  readonly #chooser = h(
    'div',
    { id: 'channel-chooser', hidden: true },
    h('label', { htmlFor: 'channel' }, 'Go live in'),
    this.#channelSelect,
    this.#channelInfo,
    this.#refreshButton,
    h('h3', {}, 'A new channel'),
    h('label', { htmlFor: 'variants' }, 'HLS variants for viewers'),
    this.#variantsSelect,
    this.#createButton,
  );
  readonly #options: ChannelCardOptions;
  #target: Target | undefined;
  #tokenForm: { refused(): void } | undefined;
  #channels: ChannelDescription[] = [];

  constructor(options: ChannelCardOptions) {
    this.#options = options;
    this.#channelSelect.addEventListener('change', () => {
      this.#chooseChannel();
    });
    this.#refreshButton.addEventListener('click', () => void this.#loadChannels());
    this.#createButton.addEventListener('click', () => void this.#createChannel());
  }

  get target(): Target | undefined {
    return this.#target;
  }

  /** The channel cannot be changed while live. */
  setDisabled(isDisabled: boolean): void {
    for (const control of [this.#channelSelect, this.#createButton]) control.disabled = isDisabled;
  }

  /** The channel of the link the page was opened with (`?channel_id=&sora_url=`): no token needed. */
  showLinked(channelId: string, soraUrl: string): void {
    this.section.append(
      h(
        'dl',
        { className: 'stats' },
        h('dt', {}, 'Channel'),
        h('dd', { id: 'linked-channel' }, channelId),
        h('dt', {}, 'Signaling'),
        h('dd', {}, soraUrl),
      ),
      h(
        'p',
        { className: 'hint' },
        'From the link you opened. ',
        h('a', { href: '/broadcast' }, 'Choose another'),
      ),
    );
    this.#setTarget({
      channelId,
      soraUrl,
      playlistUrl: undefined,
      playlistHint:
        'The playlist URL for viewers came with the channel (CreateChannel’s playlist_url); the Admin page lists it.',
    });
    if (storedToken() === undefined) return;
    // With a kept token the playlist URL can be looked up; a channel of another token simply stays without it.
    void api<ChannelDescription>('Nagare_20261124.DescribeChannel', { channel_id: channelId }).then(
      (channel) => {
        if (this.#target?.channelId === channel.channel_id)
          this.#setTarget({ ...targetOf(channel), soraUrl });
      },
      () => undefined,
    );
  }

  /** The token form, then the chooser of the token's channels. */
  useToken(): void {
    this.#tokenForm = requireToken(this.section, () => void this.#loadChannels());
    this.section.append(this.#chooser);
    this.#setTarget(undefined);
  }

  /** The chooser shows each channel's state: after going live or stopping it has changed. */
  refreshList(): void {
    if (!this.#chooser.hidden) void this.#loadChannels();
  }

  #setTarget(next: Target | undefined): void {
    this.#target = next;
    this.#options.onTarget(next);
  }

  async #loadChannels(select?: string): Promise<void> {
    const channelSelect = this.#channelSelect;
    const previous = select ?? channelSelect.value;
    try {
      const { channel_ids } = await api<{ channel_ids: string[] }>('ImageFlux_20200729.ListChannelIDs', {});
      // A channel deleted between the two calls answers 404: it is simply left out.
      const described = await Promise.allSettled(
        channel_ids.map((id) =>
          api<ChannelDescription>('Nagare_20261124.DescribeChannel', { channel_id: id }),
        ),
      );
      this.#channels = described.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.#chooser.hidden = true;
        this.#setTarget(undefined);
        this.#tokenForm?.refused();
      }
      announce(explain(error), 'error');
      return;
    }
    this.#chooser.hidden = false;
    channelSelect.replaceChildren(
      ...this.#channels.map((channel) =>
        h(
          'option',
          { value: channel.channel_id, selected: channel.channel_id === previous },
          `${channel.channel_id.slice(0, 12)}… · ${channel.state}${channel.type === 'composite' ? '' : ` · ${channel.type}`}`,
        ),
      ),
    );
    if (this.#channels.length === 0) {
      channelSelect.append(h('option', { value: '' }, 'No channel yet: create one below'));
    }
    this.#chooseChannel();
  }

  #chooseChannel(): void {
    const channel = this.#channels.find((candidate) => candidate.channel_id === this.#channelSelect.value);
    if (channel === undefined) {
      this.#channelInfo.replaceChildren();
      this.#setTarget(undefined);
      return;
    }
    const link = `/broadcast?${new URLSearchParams({ channel_id: channel.channel_id, sora_url: channel.sora_url })}`;
    this.#channelInfo.replaceChildren(
      `${channel.type}, ${channel.state}. `,
      h('a', { href: link, id: 'channel-link' }, 'A link to go live in it'),
      ' without the token (keep it private: the channel_id is the right to broadcast).',
    );
    this.#setTarget(targetOf(channel));
  }

  async #createChannel(): Promise<void> {
    const choice = variantChoices[this.#variantsSelect.value] ?? variantChoices['ladder'];
    this.#createButton.disabled = true;
    try {
      const created = await api<{ channel_id: string }>('ImageFlux_20180905.CreateChannel', {
        hls: choice?.hls,
      });
      await this.#loadChannels(created.channel_id);
      announce(`Channel ${created.channel_id.slice(0, 12)}… created.`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.#tokenForm?.refused();
      announce(explain(error), 'error');
    } finally {
      this.#options.updateControls();
    }
  }
}
