/**
 * The API actions, keyed by their `X-Sora-Target` name. Each reads its body with the schema readers
 * and answers a JSON-serialisable object; errors are thrown as NagareError.
 */
import {
  defaultLayout,
  hasComposite,
  parseCreateChannel,
  parseCreateMultistreamChannel,
  parseCreateMultistreamChannelWithHls,
  parseLayout,
  type ChannelSpec,
  type Layout,
} from '../channel/channel-spec.ts';
import type { Admission } from '../channel/admission.ts';
import type { ChannelRegistry, ChannelView } from '../channel/channel-registry.ts';
import { playlistUrl, soraUrl, type PublicUrls } from '../http/public-urls.ts';
import { notFound, invalidParameter } from '../errors.ts';
import { readObject, readRequired, readString } from '../lib/validate.ts';
import { closeCodes } from '../signaling/close-codes.ts';
import type { Sfu } from '../sfu/sfu.ts';

export interface ActionContext {
  /** The caller's identity: the digest of its API token. */
  owner: string;
  body: unknown;
  urls: PublicUrls;
  registry: ChannelRegistry;
  sfu: Sfu;
  media: ChannelMedia;
  admission: Admission;
}

/** What the actions ask of the running media (MediaManager). */
export interface ChannelMedia {
  /** The channel's media figures, when it is running. */
  pipeline(channelId: string): { stats(): Record<string, unknown> } | undefined;
  setLayout(channelId: string, layout: Layout): void;
  /** Publishers' own playlists that can be played now. */
  publisherPlaylists(channelId: string): { connectionId: string; playlistId: string }[];
  traffic(channelId: string): { hlsBytes: number; viewers: number; liveEdgeMs: number | undefined };
}

export type Action = (ctx: ActionContext) => unknown;

function readChannelId(body: unknown, otherFields: readonly string[] = []): string {
  const record = readObject(body, '', ['channel_id', ...otherFields]);
  return readString(readRequired(record, '', 'channel_id'), 'channel_id', 255);
}

/** A live (not deleted) channel of the caller, for the Sora connection actions. */
function ownLiveChannel(ctx: ActionContext, otherFields: readonly string[]): string {
  const channelId = readChannelId(ctx.body, otherFields);
  const { state } = ctx.registry.get(ctx.owner, channelId);
  if (state === 'deleted') throw notFound(`channel ${channelId} was deleted`);
  return channelId;
}

/** The kind of channel, as DescribeChannel names it. */
function channelType(spec: ChannelSpec): string {
  if (spec.perPublisher === true) return 'multistream_hls';
  return hasComposite(spec) ? 'composite' : 'multistream';
}

export function describeChannel(
  view: ChannelView,
  urls: PublicUrls,
  media?: Record<string, unknown>,
): Record<string, unknown> {
  const { record, state } = view;
  const { spec } = record;
  return {
    channel_id: record.channelId,
    type: channelType(spec),
    state,
    created_at: record.createdAt,
    ...(record.deletedAt === undefined ? {} : { deleted_at: record.deletedAt }),
    sora_url: soraUrl(urls),
    ...(hasComposite(spec)
      ? { playlist_url: playlistUrl(urls, record.playlistId), layout: spec.layout ?? defaultLayout }
      : {}),
    hls: spec.hls,
    ...(spec.environment === undefined ? {} : { environment: spec.environment }),
    ...(record.spec.authWebhookUrl === undefined ? {} : { auth_webhook_url: record.spec.authWebhookUrl }),
    ...(record.spec.eventWebhookUrl === undefined ? {} : { event_webhook_url: record.spec.eventWebhookUrl }),
    ...(media === undefined ? {} : { media }),
  };
}

export const actions: Readonly<Record<string, Action>> = {
  'ImageFlux_20180905.CreateChannel': ({ owner, body, urls, registry, admission }) => {
    const spec = parseCreateChannel(body);
    admission.checkCreate();
    const record = registry.create(owner, { ...spec, publicBaseUrl: urls.hls });
    return {
      channel_id: record.channelId,
      sora_url: soraUrl(urls),
      playlist_url: playlistUrl(urls, record.playlistId),
    };
  },

  'ImageFlux_20200316.CreateMultistreamChannel': ({ owner, body, urls, registry, admission }) => {
    const spec = parseCreateMultistreamChannel(body);
    admission.checkCreate();
    const record = registry.create(owner, { ...spec, publicBaseUrl: urls.hls });
    return { channel_id: record.channelId, sora_url: soraUrl(urls) };
  },

  'ImageFlux_20200316.CreateMultistreamChannelWithHLS': ({ owner, body, urls, registry, admission }) => {
    const spec = parseCreateMultistreamChannelWithHls(body);
    admission.checkCreate();
    const record = registry.create(owner, { ...spec, publicBaseUrl: urls.hls });
    return {
      channel_id: record.channelId,
      sora_url: soraUrl(urls),
      // Nagare's extension: with a `layout`, the composite of every publisher too.
      ...(hasComposite(spec) ? { playlist_url: playlistUrl(urls, record.playlistId) } : {}),
    };
  },

  'ImageFlux_20200207.ListPlaylistURLs': ({ owner, body, urls, registry, media }) => {
    const { record } = registry.get(owner, readChannelId(body));
    return {
      channel_id: record.channelId,
      hls: media.publisherPlaylists(record.channelId).map(({ connectionId, playlistId }) => ({
        connection_id: connectionId,
        playlist_url: playlistUrl(urls, playlistId),
      })),
    };
  },

  'Nagare_20261124.UpdateLayout': ({ owner, body, registry, media }) => {
    const fields = readObject(body, '', ['channel_id', 'layout']);
    const channelId = readString(readRequired(fields, '', 'channel_id'), 'channel_id', 255);
    const layout = parseLayout(readRequired(fields, '', 'layout'));
    registry.updateLayout(owner, channelId, layout);
    media.setLayout(channelId, layout);
    return { channel_id: channelId, layout };
  },

  'ImageFlux_20180501.DeleteChannel': ({ owner, body, registry }) => {
    const { record } = registry.delete(owner, readChannelId(body));
    return { channel_id: record.channelId };
  },

  'ImageFlux_20200729.ListChannelIDs': ({ owner, body, registry }) => {
    readObject(body, '', []);
    return { channel_ids: registry.listActive(owner).map((record) => record.channelId) };
  },

  'Nagare_20261124.DescribeChannel': ({ owner, body, urls, registry, sfu, media }) => {
    const view = registry.get(owner, readChannelId(body));
    const { channelId } = view.record;
    const described = describeChannel(view, urls, media.pipeline(channelId)?.stats());
    described['connections'] = sfu.listConnections(channelId).length;
    const traffic = media.traffic(channelId);
    described['traffic'] = {
      ingest_bytes: sfu.ingestBytes(channelId),
      hls_bytes: traffic.hlsBytes,
      viewers: traffic.viewers,
      live_edge_ms: traffic.liveEdgeMs ?? null,
    };
    return described;
  },

  'Sora_20151104.DisconnectChannel': (ctx) => {
    const channelId = ownLiveChannel(ctx, ['reason']);
    ctx.sfu.disconnectChannel(channelId, closeCodes.normal, 'DISCONNECTED-BY-API');
    return { channel_id: channelId };
  },

  'Sora_20151104.DisconnectConnection': (ctx) => {
    const channelId = ownLiveChannel(ctx, ['connection_id', 'reason']);
    const record = ctx.body as Record<string, unknown>;
    const connectionId = readString(readRequired(record, '', 'connection_id'), 'connection_id', 255);
    if (!ctx.sfu.disconnectConnection(channelId, connectionId, closeCodes.normal, 'DISCONNECTED-BY-API')) {
      throw notFound(`connection ${connectionId} is not in channel ${channelId}`);
    }
    return { channel_id: channelId, connection_id: connectionId };
  },

  'Sora_20201013.ListChannelConnections': (ctx) => ctx.sfu.listConnections(ownLiveChannel(ctx, [])),

  'Sora_20160711.PushChannel': (ctx) => {
    const channelId = ownLiveChannel(ctx, ['data']);
    const data = (ctx.body as Record<string, unknown>)['data'];
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw invalidParameter('data must be a JSON object');
    }
    ctx.sfu.push(channelId, data);
    return { channel_id: channelId };
  },
};

export const actionNames = (): string[] => Object.keys(actions);
