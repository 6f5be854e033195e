/**
 * The messages a Sora client sends on the signaling WebSocket (shared/SORA-PROTOCOL.md §3), parsed and checked.
 * Pure: text in, a typed message or a rejection out. Unknown fields are ignored (the SDK adds fields over time);
 * known fields with the wrong type are rejected with the field's name.
 */
import { NagareError } from '../errors.ts';
import {
  fieldPath,
  readObject,
  readOneOf,
  readOptionalBoolean,
  readOptionalString,
  readRequired,
  readString,
} from '../lib/validate.ts';

export const roles = ['sendrecv', 'sendonly', 'recvonly'] as const;
export type Role = (typeof roles)[number];

export const videoCodecTypes = ['H264', 'VP8', 'VP9', 'AV1', 'H265'] as const;
export type VideoCodecType = (typeof videoCodecTypes)[number];

export const audioCodecTypes = ['OPUS'] as const;
export type AudioCodecType = (typeof audioCodecTypes)[number];

export interface ConnectMessage {
  type: 'connect';
  role: Role;
  channelId: string;
  /** `connect.metadata`, as sent (often null). */
  metadata: unknown;
  clientId?: string;
  bundleId?: string;
  audio: boolean;
  video: boolean;
  audioCodecType?: AudioCodecType;
  videoCodecType?: VideoCodecType;
  audioBitRateKbps?: number;
  videoBitRateKbps?: number;
  soraClient?: string;
  environment?: string;
  signalingNotify: boolean;
  signalingNotifyMetadata?: unknown;
  simulcast: boolean;
  spotlight: boolean;
  dataChannelSignaling: boolean;
  redirect: boolean;
}

export interface CandidateMessage {
  type: 'candidate';
  candidate: string;
  sdpMid?: string;
  sdpMLineIndex?: number;
  usernameFragment?: string;
}

export type ClientMessage =
  | ConnectMessage
  | { type: 'answer'; sdp: string }
  | { type: 're-answer'; sdp: string }
  | { type: 'update'; sdp: string }
  | CandidateMessage
  | { type: 'pong' }
  | { type: 'disconnect'; reason?: string }
  | { type: 'unknown'; name: string };

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; reason: string };

const maxSdpLength = 200_000;
const anyKeys = (record: Record<string, unknown>): string[] => Object.keys(record);

function readMediaOption(
  value: unknown,
  path: string,
): { enabled: boolean; codecType?: string; bitRateKbps?: number } {
  if (value === undefined || value === null) return { enabled: true };
  if (typeof value === 'boolean') return { enabled: value };
  const record = readObject(value, path, anyKeys(value as Record<string, unknown>));
  const codecType = readOptionalString(record['codec_type'], fieldPath(path, 'codec_type'), 16);
  const bitRate = record['bit_rate'];
  if (bitRate !== undefined && (typeof bitRate !== 'number' || !(bitRate > 0) || bitRate > 100_000)) {
    throw new NagareError(
      'InvalidParameter',
      `${fieldPath(path, 'bit_rate')} must be a number of kbps up to 100000`,
    );
  }
  return {
    enabled: true,
    ...(codecType === undefined ? {} : { codecType }),
    ...(bitRate === undefined ? {} : { bitRateKbps: bitRate }),
  };
}

function parseConnect(record: Record<string, unknown>): ConnectMessage {
  const audio = readMediaOption(record['audio'], 'audio');
  const video = readMediaOption(record['video'], 'video');
  const message: ConnectMessage = {
    type: 'connect',
    role: readOneOf(readRequired(record, '', 'role'), 'role', roles),
    channelId: readString(readRequired(record, '', 'channel_id'), 'channel_id', 255),
    metadata: record['metadata'],
    audio: audio.enabled,
    video: video.enabled,
    signalingNotify: readOptionalBoolean(record['signaling_notify'], 'signaling_notify') ?? true,
    simulcast: readOptionalBoolean(record['simulcast'], 'simulcast') ?? false,
    spotlight: readOptionalBoolean(record['spotlight'], 'spotlight') ?? false,
    dataChannelSignaling:
      readOptionalBoolean(record['data_channel_signaling'], 'data_channel_signaling') ?? false,
    redirect: readOptionalBoolean(record['redirect'], 'redirect') ?? false,
  };
  if (audio.codecType !== undefined) {
    message.audioCodecType = readOneOf(audio.codecType, 'audio.codec_type', audioCodecTypes);
  }
  if (video.codecType !== undefined) {
    message.videoCodecType = readOneOf(video.codecType, 'video.codec_type', videoCodecTypes);
  }
  if (audio.bitRateKbps !== undefined) message.audioBitRateKbps = audio.bitRateKbps;
  if (video.bitRateKbps !== undefined) message.videoBitRateKbps = video.bitRateKbps;
  const optionalStrings = [
    ['client_id', 'clientId', 255],
    ['bundle_id', 'bundleId', 255],
    ['sora_client', 'soraClient', 255],
    ['environment', 'environment', 1024],
  ] as const;
  for (const [wire, key, max] of optionalStrings) {
    const value = readOptionalString(record[wire], wire, max);
    if (value !== undefined) message[key] = value;
  }
  readOptionalString(record['sdp'], 'sdp', maxSdpLength);
  if (record['signaling_notify_metadata'] !== undefined) {
    message.signalingNotifyMetadata = record['signaling_notify_metadata'];
  }
  return message;
}

function parseCandidate(record: Record<string, unknown>): CandidateMessage {
  const message: CandidateMessage = {
    type: 'candidate',
    candidate: readOptionalString(readRequired(record, '', 'candidate'), 'candidate', 2048) ?? '',
  };
  const sdpMid = readOptionalString(record['sdpMid'], 'sdpMid', 64);
  if (sdpMid !== undefined) message.sdpMid = sdpMid;
  const index = record['sdpMLineIndex'];
  if (index !== undefined && index !== null) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 1024) {
      throw new NagareError('InvalidParameter', 'sdpMLineIndex must be an integer from 0 to 1024');
    }
    message.sdpMLineIndex = index;
  }
  const ufrag = readOptionalString(record['usernameFragment'], 'usernameFragment', 256);
  if (ufrag !== undefined) message.usernameFragment = ufrag;
  return message;
}

function parseRecord(record: Record<string, unknown>): ClientMessage {
  const type = readString(readRequired(record, '', 'type'), 'type', 64);
  switch (type) {
    case 'connect':
      return parseConnect(record);
    case 'answer':
    case 're-answer':
    case 'update':
      return { type, sdp: readString(readRequired(record, '', 'sdp'), 'sdp', maxSdpLength) };
    case 'candidate':
      return parseCandidate(record);
    case 'pong':
      return { type: 'pong' };
    case 'disconnect': {
      const reason = readOptionalString(record['reason'], 'reason', 256);
      return reason === undefined ? { type: 'disconnect' } : { type: 'disconnect', reason };
    }
    default:
      return { type: 'unknown', name: type };
  }
}

/** Parses one text frame. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'message must be a JSON object' };
  }
  try {
    return { ok: true, message: parseRecord(value as Record<string, unknown>) };
  } catch (err) {
    if (err instanceof NagareError) return { ok: false, reason: err.message };
    throw err;
  }
}
