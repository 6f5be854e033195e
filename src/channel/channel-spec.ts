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

export interface ChannelSpec {
  hls: HlsVariant[];
  authWebhookUrl?: string;
  eventWebhookUrl?: string;
}

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

/** Parses the body of ImageFlux_20180905.CreateChannel. */
export function parseCreateChannel(body: unknown): ChannelSpec {
  const record = readObject(body, '', ['hls', 'auth_webhook_url', 'event_webhook_url', 'encrypt_key_uri']);
  if (record['encrypt_key_uri'] !== undefined) throw invalidParameter('encrypt_key_uri is not supported');
  const spec: ChannelSpec = { hls: parseHlsVariants(readRequired(record, '', 'hls')) };
  const authWebhookUrl = readOptionalHttpUrl(record['auth_webhook_url'], 'auth_webhook_url');
  const eventWebhookUrl = readOptionalHttpUrl(record['event_webhook_url'], 'event_webhook_url');
  if (authWebhookUrl !== undefined) spec.authWebhookUrl = authWebhookUrl;
  if (eventWebhookUrl !== undefined) spec.eventWebhookUrl = eventWebhookUrl;
  return spec;
}
