/**
 * What a channel is asked to produce: the HLS variants of ImageFlux's CreateChannel
 * (ImageFlux_20180905.CreateChannel, see shared/SORA-PROTOCOL.md §9), normalised.
 */
import { invalidParameter } from '../errors.ts';
import {
  fieldPath,
  readInteger,
  readNumber,
  readObject,
  readOneOf,
  readOptionalHttpUrl,
  readRequired,
  readString,
} from '../lib/validate.ts';

export const h264Profiles = ['h264_high', 'h264_main', 'h264_baseline'] as const;
export type H264Profile = (typeof h264Profiles)[number];

/** ImageFlux rounds audio bit rates down to one of these; below the first is an error. */
export const audioBitratesBps = [
  32_000, 40_000, 48_000, 56_000, 64_000, 80_000, 96_000, 112_000, 128_000, 160_000, 192_000, 224_000,
  256_000, 320_000,
] as const;

export const maxVariants = 8;
export const defaultSegmentDurationSeconds = 2;

export interface HlsVariant {
  video: { width: number; height: number; fps: number; bps: number; codec: H264Profile };
  audio: { bps: number };
  /** Segment length in seconds (EXT-X-TARGETDURATION); the same for every variant of a channel. */
  durationSeconds: number;
  /** EXT-X-START:TIME-OFFSET, seconds; negative counts back from the live edge. */
  startTimeOffset?: number;
}

export const layoutTypes = ['grid', 'featured', 'pip'] as const;
export type LayoutType = (typeof layoutTypes)[number];
/** Most publishers a composite shows at once (grid 4×4); the others are heard, not seen. */
export const maxTiles = 16;

/** How the composite arranges the channel's publishers. */
export interface Layout {
  type: LayoutType;
  /** connection_id or client_id values, shown first in this order; the others follow by join time. */
  order?: string[];
}

export const defaultLayout: Layout = { type: 'grid' };

export interface ChannelSpec {
  /** The variants of every playlist of the channel; empty for a multistream channel without HLS. */
  hls: HlsVariant[];
  /** The channel's playlist_url shows every publisher (the composite). Absent in old records: true. */
  composite?: boolean;
  /** Each publishing connection gets its own playlist (CreateMultistreamChannelWithHLS). */
  perPublisher?: boolean;
  layout?: Layout;
  authWebhookUrl?: string;
  eventWebhookUrl?: string;
  /** ImageFlux's `environment` of the multistream actions, kept as given. */
  environment?: number;
  /** The base of the playlist URLs when the channel was created (PublicUrls.hls): those in webhook events too. */
  publicBaseUrl?: string;
}

export const hasComposite = (spec: ChannelSpec): boolean => spec.hls.length > 0 && spec.composite !== false;

/** Rounds an audio bit rate down to the ImageFlux set; undefined when below the smallest. */
export function roundAudioBitrate(bps: number): number | undefined {
  let chosen: number | undefined;
  for (const candidate of audioBitratesBps) if (candidate <= bps) chosen = candidate;
  return chosen;
}

function parseVariant(value: unknown, path: string): HlsVariant {
  const entry = readObject(value, path, ['video', 'audio', 'durationSeconds', 'startTimeOffset', 'archive']);
  if (entry['archive'] !== undefined) {
    throw invalidParameter(`${fieldPath(path, 'archive')} is not supported`);
  }

  const videoPath = fieldPath(path, 'video');
  const video = readObject(readRequired(entry, path, 'video'), videoPath, [
    'width',
    'height',
    'fps',
    'bps',
    'codec',
  ]);
  const at = (key: string): string => fieldPath(videoPath, key);
  const width = readInteger(readRequired(video, videoPath, 'width'), at('width'), {
    min: 36,
    max: 4096,
    even: true,
  });
  const height = readInteger(readRequired(video, videoPath, 'height'), at('height'), {
    min: 36,
    max: 4096,
    even: true,
  });
  const fps = readInteger(readRequired(video, videoPath, 'fps'), at('fps'), { min: 1, max: 60 });
  const bps = readInteger(readRequired(video, videoPath, 'bps'), at('bps'), { min: 50_000, max: 20_000_000 });
  const codec =
    video['codec'] === undefined ? 'h264_high' : readOneOf(video['codec'], at('codec'), h264Profiles);

  const audioPath = fieldPath(path, 'audio');
  const audio = readObject(readRequired(entry, path, 'audio'), audioPath, ['bps']);
  const audioBpsPath = fieldPath(audioPath, 'bps');
  const requestedAudioBps = readInteger(readRequired(audio, audioPath, 'bps'), audioBpsPath, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  });
  const audioBps = roundAudioBitrate(requestedAudioBps);
  if (audioBps === undefined) throw invalidParameter(`${audioBpsPath} must be an integer of at least 32000`);

  const durationSeconds =
    entry['durationSeconds'] === undefined
      ? defaultSegmentDurationSeconds
      : readInteger(entry['durationSeconds'], fieldPath(path, 'durationSeconds'), { min: 1, max: 10 });

  const variant: HlsVariant = {
    video: { width, height, fps, bps, codec },
    audio: { bps: audioBps },
    durationSeconds,
  };
  if (entry['startTimeOffset'] !== undefined) {
    variant.startTimeOffset = readNumber(
      entry['startTimeOffset'],
      fieldPath(path, 'startTimeOffset'),
      -86_400,
      86_400,
    );
  }
  return variant;
}

/** Reads the `hls` array of CreateChannel; every variant shares one segment length so keyframes line up. */
export function parseHlsVariants(value: unknown): HlsVariant[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > maxVariants) {
    throw invalidParameter(`hls must be an array of 1 to ${maxVariants} variants`);
  }
  const variants = value.map((entry, index) => parseVariant(entry, `hls[${index}]`));
  const first = variants[0];
  variants.forEach((variant, index) => {
    if (first !== undefined && variant.durationSeconds !== first.durationSeconds) {
      throw invalidParameter(
        `hls[${index}].durationSeconds must equal hls[0].durationSeconds (variants share segment boundaries)`,
      );
    }
  });
  return variants;
}

/**
 * A layout: `"grid"` or `{type, order?}`. `order` lists connection_id or client_id values (at most 16, each at
 * most 255 characters, no repeats).
 */
export function parseLayout(value: unknown, path = 'layout'): Layout {
  if (typeof value === 'string') return { type: readOneOf(value, path, layoutTypes) };
  const record = readObject(value, path, ['type', 'order']);
  const layout: Layout = {
    type: readOneOf(readRequired(record, path, 'type'), fieldPath(path, 'type'), layoutTypes),
  };
  const order = record['order'];
  if (order !== undefined) {
    const orderPath = fieldPath(path, 'order');
    if (!Array.isArray(order) || order.length > maxTiles) {
      throw invalidParameter(`${orderPath} must be an array of at most ${maxTiles} ids`);
    }
    const ids = order.map((id, index) => readString(id, `${orderPath}[${index}]`, 255));
    if (new Set(ids).size !== ids.length) throw invalidParameter(`${orderPath} must not repeat an id`);
    layout.order = ids;
  }
  return layout;
}

function readWebhooks(record: Record<string, unknown>, spec: ChannelSpec): void {
  const authWebhookUrl = readOptionalHttpUrl(record['auth_webhook_url'], 'auth_webhook_url');
  const eventWebhookUrl = readOptionalHttpUrl(record['event_webhook_url'], 'event_webhook_url');
  if (authWebhookUrl !== undefined) spec.authWebhookUrl = authWebhookUrl;
  if (eventWebhookUrl !== undefined) spec.eventWebhookUrl = eventWebhookUrl;
}

function readEnvironment(record: Record<string, unknown>, spec: ChannelSpec): void {
  if (record['environment'] === undefined) return;
  spec.environment = readInteger(record['environment'], 'environment', { min: 0, max: 2 ** 31 - 1 });
}

const createChannelFields = ['hls', 'auth_webhook_url', 'event_webhook_url', 'encrypt_key_uri', 'layout'];

/**
 * Parses the body of ImageFlux_20180905.CreateChannel: one composite playlist of every publisher. `layout` is
 * Nagare's extension (default grid).
 */
export function parseCreateChannel(body: unknown): ChannelSpec {
  const record = readObject(body, '', createChannelFields);
  if (record['encrypt_key_uri'] !== undefined) throw invalidParameter('encrypt_key_uri is not supported');
  const spec: ChannelSpec = { hls: parseHlsVariants(readRequired(record, '', 'hls')), composite: true };
  spec.layout = record['layout'] === undefined ? defaultLayout : parseLayout(record['layout']);
  readWebhooks(record, spec);
  return spec;
}

/** ImageFlux_20200316.CreateMultistreamChannel: the SFU only, no HLS. */
export function parseCreateMultistreamChannel(body: unknown): ChannelSpec {
  const record = readObject(body, '', ['auth_webhook_url', 'event_webhook_url', 'environment']);
  const spec: ChannelSpec = { hls: [], composite: false, perPublisher: false };
  readWebhooks(record, spec);
  readEnvironment(record, spec);
  return spec;
}

/**
 * ImageFlux_20200316.CreateMultistreamChannelWithHLS: a playlist per publishing connection. With Nagare's
 * `layout` extension the channel also gets the composite playlist.
 */
export function parseCreateMultistreamChannelWithHls(body: unknown): ChannelSpec {
  const record = readObject(body, '', [...createChannelFields, 'environment']);
  if (record['encrypt_key_uri'] !== undefined) throw invalidParameter('encrypt_key_uri is not supported');
  const composite = record['layout'] !== undefined;
  const spec: ChannelSpec = {
    hls: parseHlsVariants(readRequired(record, '', 'hls')),
    composite,
    perPublisher: true,
  };
  if (composite) spec.layout = parseLayout(record['layout']);
  readWebhooks(record, spec);
  readEnvironment(record, spec);
  return spec;
}
