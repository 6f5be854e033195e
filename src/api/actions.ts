/**
 * The API actions, keyed by their `X-Sora-Target` name. Each reads its body with the schema readers
 * and answers a JSON-serialisable object; errors are thrown as NagareError.
 */
import { parseCreateChannel } from '../channel/channel-spec.ts';
import type { ChannelRegistry, ChannelView } from '../channel/channel-registry.ts';
import { playlistUrl, soraUrl, type PublicUrls } from '../http/public-urls.ts';
import { readObject, readRequired, readString } from './validate.ts';

export interface ActionContext {
  /** The caller's identity: the digest of its API token. */
  owner: string;
  body: unknown;
  urls: PublicUrls;
  registry: ChannelRegistry;
}

export type Action = (ctx: ActionContext) => unknown;

function readChannelId(body: unknown): string {
  const record = readObject(body, '', ['channel_id']);
  return readString(readRequired(record, '', 'channel_id'), 'channel_id', 255);
}

export function describeChannel(view: ChannelView, urls: PublicUrls): Record<string, unknown> {
  const { record, state } = view;
  return {
    channel_id: record.channelId,
    state,
    created_at: record.createdAt,
    ...(record.deletedAt === undefined ? {} : { deleted_at: record.deletedAt }),
    sora_url: soraUrl(urls),
    playlist_url: playlistUrl(urls, record.playlistId),
    hls: record.spec.hls,
    ...(record.spec.authWebhookUrl === undefined ? {} : { auth_webhook_url: record.spec.authWebhookUrl }),
    ...(record.spec.eventWebhookUrl === undefined ? {} : { event_webhook_url: record.spec.eventWebhookUrl }),
  };
}

export const actions: Readonly<Record<string, Action>> = {
  'ImageFlux_20180905.CreateChannel': ({ owner, body, urls, registry }) => {
    const record = registry.create(owner, parseCreateChannel(body));
    return {
      channel_id: record.channelId,
      sora_url: soraUrl(urls),
      playlist_url: playlistUrl(urls, record.playlistId),
    };
  },

  'ImageFlux_20180501.DeleteChannel': ({ owner, body, registry }) => {
    const { record } = registry.delete(owner, readChannelId(body));
    return { channel_id: record.channelId };
  },

  'ImageFlux_20200729.ListChannelIDs': ({ owner, body, registry }) => {
    readObject(body, '', []);
    return { channel_ids: registry.listActive(owner).map((record) => record.channelId) };
  },

  'Nagare_20261124.DescribeChannel': ({ owner, body, urls, registry }) =>
    describeChannel(registry.get(owner, readChannelId(body)), urls),
};

export const actionNames = (): string[] => Object.keys(actions);
