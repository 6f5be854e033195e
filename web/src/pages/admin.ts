/**
 * `/admin`: the channels of the API token, refreshed every 2 s (state, variants, publishers, and viewers, bit
 * rates and live-edge latency when the server reports its traffic), with links to broadcast to and watch each;
 * a form to create a channel (the server validates it and its message is shown beside the form) and a delete
 * that asks first. A refused token brings the token form back.
 */
import { ApiError, announce, api, byId, explain, formatBitrate, h, requireToken } from '../common.ts';

const refreshIntervalMs = 2000;
const maxVariants = 8;
const h264Profiles = ['h264_high', 'h264_main', 'h264_baseline'] as const;

interface Variant {
  video: { width: number; height: number; fps: number; bps: number; codec?: string };
  audio: { bps: number };
  durationSeconds?: number;
}
interface Traffic {
  ingest_bytes: number;
  hls_bytes: number;
  viewers: number;
  live_edge_ms: number | null;
}
interface Channel {
  channel_id: string;
  type: string;
  state: 'idle' | 'live' | 'deleted';
  created_at: string;
  sora_url: string;
  playlist_url?: string;
  hls: Variant[];
  connections: number;
  traffic?: unknown;
}
interface Connection {
  connection_id: string;
  client_id?: string;
  role: string;
}

/** The traffic figures, if the server reports them in this shape (older servers do not). */
function readTraffic(value: unknown): Traffic | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const traffic = value as Partial<Record<keyof Traffic, unknown>>;
  if (typeof traffic.ingest_bytes !== 'number' || typeof traffic.hls_bytes !== 'number') return undefined;
  return {
    ingest_bytes: traffic.ingest_bytes,
    hls_bytes: traffic.hls_bytes,
    viewers: typeof traffic.viewers === 'number' ? traffic.viewers : 0,
    live_edge_ms: typeof traffic.live_edge_ms === 'number' ? traffic.live_edge_ms : null,
  };
}

const shortId = (id: string): string => (id.length > 12 ? `${id.slice(0, 12)}…` : id);
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

const app = byId('app');

// ---- The channel table, updated in place so focus and an open dialog survive a refresh.

const channelsHeading = h('h2', { id: 'channels-title', tabIndex: -1 }, 'Channels');
const updatedText = h('p', { className: 'hint', id: 'updated' });
const tableBody = h('tbody', {});
const emptyRow = h('tr', {}, h('td', { colSpan: 6 }, 'No channels yet: create one below.'));
const otherTokenButton = h('button', { type: 'button', className: 'secondary' }, 'Use another token');
const channelsSection = h(
  'section',
  { className: 'card', 'aria-labelledby': 'channels-title', hidden: true },
  channelsHeading,
  updatedText,
  h(
    'div',
    { className: 'table-wrap' },
    h(
      'table',
      { className: 'channels', id: 'channels' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Channel', 'State', 'Publishers', 'Variants', 'Audience', 'Actions'].map((name) =>
            h('th', { scope: 'col' }, name),
          ),
        ),
      ),
      tableBody,
    ),
  ),
  otherTokenButton,
);

interface Sample {
  ingestBytes: number;
  hlsBytes: number;
  atMs: number;
}

class ChannelRow {
  readonly tr: HTMLTableRowElement;
  readonly #cells: Record<
    'channel' | 'state' | 'publishers' | 'variants' | 'audience' | 'actions',
    HTMLElement
  >;
  #sample: Sample | undefined;
  #linksFor = '';

  constructor(channelId: string) {
    const cell = (label: string): HTMLTableCellElement => h('td', { 'data-label': label });
    this.#cells = {
      channel: cell('Channel'),
      state: cell('State'),
      publishers: cell('Publishers'),
      variants: cell('Variants'),
      audience: cell('Audience'),
      actions: cell('Actions'),
    };
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
              confirmDelete(channel.channel_id);
            },
          },
          'Delete',
        ),
      ),
    );
  }
}

const rows = new Map<string, ChannelRow>();

async function describe(channelId: string): Promise<[Channel, Connection[]] | undefined> {
  let channel: Channel;
  try {
    channel = await api<Channel>('Nagare_20261124.DescribeChannel', { channel_id: channelId });
  } catch (error) {
    // Deleted between the list and now: it goes at the next refresh.
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
  if (channel.connections === 0) return [channel, []];
  const connections = await api<Connection[]>('Sora_20201013.ListChannelConnections', {
    channel_id: channelId,
  }).catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 401) throw error;
    return [];
  });
  return [channel, connections.filter((c) => c.role === 'sendonly' || c.role === 'sendrecv')];
}

function showChannels(described: ([Channel, Connection[]] | undefined)[]): void {
  const nowMs = performance.now();
  const shown: ChannelRow[] = [];
  for (const entry of described) {
    if (entry === undefined) continue;
    const [channel, publishers] = entry;
    let row = rows.get(channel.channel_id);
    if (row === undefined) {
      row = new ChannelRow(channel.channel_id);
      rows.set(channel.channel_id, row);
    }
    row.update(channel, publishers, nowMs);
    shown.push(row);
  }
  const kept = new Set(shown);
  for (const [id, row] of rows) {
    if (kept.has(row)) continue;
    if (row.tr.contains(document.activeElement)) channelsHeading.focus();
    row.tr.remove();
    rows.delete(id);
  }
  if (shown.length === 0) {
    tableBody.replaceChildren(emptyRow);
  } else {
    emptyRow.remove();
    // In the server's order. A row already in its place is not touched: moving it would take the focus away.
    for (const [index, row] of shown.entries()) {
      const there = tableBody.children[index] ?? null;
      if (there !== row.tr) tableBody.insertBefore(row.tr, there);
    }
  }
  updatedText.textContent = `${rows.size} channel${rows.size === 1 ? '' : 's'}, updated ${new Date().toLocaleTimeString()}`;
}

// ---- The refresh loop: one at a time, every 2 s, stopped when the token is refused.

let generation = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
/** The last refresh failed (the server was unreachable): the next that works says so. */
let refreshFailed = false;

async function refresh(run: number): Promise<void> {
  try {
    const { channel_ids } = await api<{ channel_ids: string[] }>('ImageFlux_20200729.ListChannelIDs', {});
    const described = await Promise.all(channel_ids.map(describe));
    if (run !== generation) return;
    showChannels(described);
    if (refreshFailed) announce('The server answers again.');
    refreshFailed = false;
  } catch (error) {
    if (run !== generation) return;
    if (error instanceof ApiError && error.status === 401) {
      tokenRefused(explain(error));
      return;
    }
    announce(`The channels could not be refreshed: ${explain(error)}`, 'error');
    refreshFailed = true;
  }
  if (run === generation) timer = setTimeout(() => void refresh(run), refreshIntervalMs);
}

/** Refresh now (and every 2 s from now on). */
function refreshNow(): void {
  clearTimeout(timer);
  generation += 1;
  void refresh(generation);
}

function stopRefreshing(): void {
  clearTimeout(timer);
  generation += 1;
}

// ---- The create form.

interface VariantRow {
  fieldset: HTMLFieldSetElement;
  remove: HTMLButtonElement;
  inputs: Record<
    'width' | 'height' | 'fps' | 'bps' | 'codec' | 'audio',
    HTMLInputElement | HTMLSelectElement
  >;
}

const variantRows: VariantRow[] = [];
const variantList = h('div', { className: 'variants' });
const addVariantButton = h('button', { type: 'button', className: 'secondary' }, 'Add a variant');
const segmentInput = h('input', {
  id: 'segment-duration',
  type: 'number',
  value: '2',
  inputMode: 'numeric',
});
const createError = h('p', { className: 'form-error', id: 'create-error', role: 'alert' });
const createForm = h(
  'form',
  { id: 'create-form', noValidate: true, 'aria-describedby': 'create-error' },
  variantList,
  addVariantButton,
  h('label', { htmlFor: 'segment-duration' }, 'Segment duration (seconds, 1 to 10)'),
  segmentInput,
  createError,
  h('button', { type: 'submit' }, 'Create channel'),
);
const createSection = h(
  'section',
  { className: 'card', 'aria-labelledby': 'create-title', hidden: true },
  h('h2', { id: 'create-title' }, 'Create a channel'),
  h(
    'p',
    { className: 'hint' },
    'Each variant is one rendition of the playlist. The server checks the values and says what it refuses.',
  ),
  createForm,
);

let nextRowId = 0;

/** A labelled field of a variant row. */
function labelled(label: string, control: HTMLInputElement | HTMLSelectElement): HTMLElement {
  return h('div', {}, h('label', { htmlFor: control.id }, label), control);
}

function addVariant(values: Variant): void {
  const rowId = nextRowId++;
  const number = (key: string, value: number): HTMLInputElement =>
    h('input', { id: `v${rowId}-${key}`, type: 'number', inputMode: 'numeric', value: String(value) });
  const inputs: VariantRow['inputs'] = {
    width: number('width', values.video.width),
    height: number('height', values.video.height),
    fps: number('fps', values.video.fps),
    bps: number('bps', values.video.bps),
    codec: h(
      'select',
      { id: `v${rowId}-codec` },
      ...h264Profiles.map((profile) =>
        h('option', { value: profile, selected: profile === values.video.codec }, profile),
      ),
    ),
    audio: number('audio', values.audio.bps),
  };
  const remove = h('button', { type: 'button', className: 'secondary' }, 'Remove');
  const fieldset = h(
    'fieldset',
    { className: 'variant' },
    h('legend', {}),
    h(
      'div',
      { className: 'variant-fields' },
      labelled('Width', inputs.width),
      labelled('Height', inputs.height),
      labelled('Frame rate (fps)', inputs.fps),
      labelled('Video bit rate (bps)', inputs.bps),
      labelled('H.264 profile', inputs.codec),
      labelled('Audio bit rate (bps)', inputs.audio),
    ),
    remove,
  );
  const row: VariantRow = { fieldset, inputs, remove };
  remove.addEventListener('click', () => {
    const index = variantRows.indexOf(row);
    variantRows.splice(index, 1);
    fieldset.remove();
    numberVariants();
    (variantRows[Math.min(index, variantRows.length - 1)]?.inputs.width ?? addVariantButton).focus();
  });
  variantRows.push(row);
  variantList.append(fieldset);
  numberVariants();
}

function numberVariants(): void {
  for (const [index, row] of variantRows.entries()) {
    const legend = row.fieldset.querySelector('legend');
    if (legend !== null) legend.textContent = `Variant ${index + 1}`;
    row.remove.disabled = variantRows.length === 1;
    row.remove.setAttribute('aria-label', `Remove variant ${index + 1}`);
  }
  addVariantButton.disabled = variantRows.length >= maxVariants;
}

/** A number field as typed; an empty (or unreadable) one is left out, so the server names it as required. */
const numberIn = (input: HTMLInputElement | HTMLSelectElement): number | undefined =>
  input.value.trim() === '' ? undefined : Number(input.value);

function createBody(): unknown {
  const durationSeconds = numberIn(segmentInput);
  return {
    hls: variantRows.map(({ inputs }) => ({
      video: {
        width: numberIn(inputs.width),
        height: numberIn(inputs.height),
        fps: numberIn(inputs.fps),
        bps: numberIn(inputs.bps),
        codec: inputs.codec.value,
      },
      audio: { bps: numberIn(inputs.audio) },
      ...(durationSeconds === undefined ? {} : { durationSeconds }),
    })),
  };
}

/** The field a validation message names (`hls[1].video.width must be …`), marked invalid and focused. */
function markInvalid(message: string): void {
  for (const element of createForm.querySelectorAll('[aria-invalid]'))
    element.removeAttribute('aria-invalid');
  const match = /hls\[(\d+)\]\.(?:(video)\.(width|height|fps|bps|codec)|(audio)\.bps|(durationSeconds))/.exec(
    message,
  );
  if (match === null) return;
  const row = variantRows[Number(match[1])];
  const key = (match[4] !== undefined ? 'audio' : match[3]) as keyof VariantRow['inputs'] | undefined;
  const target = match[5] !== undefined ? segmentInput : key === undefined ? undefined : row?.inputs[key];
  if (target === undefined) return;
  target.setAttribute('aria-invalid', 'true');
  target.focus();
}

createForm.addEventListener('submit', (event) => {
  event.preventDefault();
  createError.textContent = '';
  void api<{ channel_id: string }>('ImageFlux_20180905.CreateChannel', createBody()).then(
    ({ channel_id }) => {
      markInvalid('');
      announce(`Created channel ${shortId(channel_id)}.`);
      refreshNow();
    },
    (error: unknown) => {
      if (error instanceof ApiError && error.status === 401) {
        tokenRefused(explain(error));
        return;
      }
      createError.textContent = `Not created: ${explain(error)}`;
      markInvalid(createError.textContent);
    },
  );
});
addVariantButton.addEventListener('click', () => {
  addVariant({
    video: { width: 640, height: 360, fps: 30, bps: 800_000, codec: 'h264_main' },
    audio: { bps: 64_000 },
  });
  variantRows.at(-1)?.inputs.width.focus();
});
addVariant({
  video: { width: 1280, height: 720, fps: 30, bps: 2_500_000, codec: 'h264_high' },
  audio: { bps: 128_000 },
});

// ---- Delete, after a confirmation in a modal dialog (Escape or Cancel keeps the channel).

const deleteText = h('p', { id: 'delete-text' });
const deleteDialog = h(
  'dialog',
  { id: 'delete-dialog', 'aria-labelledby': 'delete-title', 'aria-describedby': 'delete-text' },
  h(
    'form',
    { method: 'dialog' },
    h('h2', { id: 'delete-title' }, 'Delete this channel?'),
    deleteText,
    h('button', { type: 'submit', value: 'cancel', className: 'secondary', autofocus: true }, 'Cancel'),
    h('button', { type: 'submit', value: 'delete', className: 'danger' }, 'Delete channel'),
  ),
);
let deleting: string | undefined;

function confirmDelete(channelId: string): void {
  deleting = channelId;
  deleteText.textContent =
    `Channel ${shortId(channelId)} is deleted for good: its broadcasters are disconnected, its playlist ends, ` +
    'and it cannot be used again.';
  deleteDialog.returnValue = '';
  deleteDialog.showModal();
}

deleteDialog.addEventListener('close', () => {
  const channelId = deleting;
  deleting = undefined;
  if (deleteDialog.returnValue !== 'delete' || channelId === undefined) return;
  void api('ImageFlux_20180501.DeleteChannel', { channel_id: channelId }).then(
    () => {
      announce(`Deleted channel ${shortId(channelId)}.`);
      refreshNow();
    },
    (error: unknown) => {
      if (error instanceof ApiError && error.status === 401) tokenRefused(explain(error));
      else announce(`Channel ${shortId(channelId)} was not deleted: ${explain(error)}`, 'error');
    },
  );
});

// ---- The token: asked for when none is kept, and again when the server refuses it.

const sections = [channelsSection, createSection];
const token = requireToken(app, () => {
  announce('');
  for (const section of sections) section.hidden = false;
  refreshNow();
});
app.append(...sections, deleteDialog);

function tokenRefused(message: string, kind: 'info' | 'error' = 'error'): void {
  stopRefreshing();
  for (const section of sections) section.hidden = true;
  for (const row of rows.values()) row.tr.remove();
  rows.clear();
  token.refused();
  announce(message, kind);
}

otherTokenButton.addEventListener('click', () => {
  tokenRefused('Enter the API token to use.', 'info');
});
