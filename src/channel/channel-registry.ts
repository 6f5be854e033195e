/**
 * The channels of this server: their durable records (ChannelStore) plus their runtime state.
 * Ownership is enforced here: a token sees and changes only the channels it created, and another
 * token's channel is reported as not found, exactly like a channel that does not exist.
 */
import { randomBytes } from 'node:crypto';
import { invalidParameter, notFound } from '../errors.ts';
import type { ChannelRecord, ChannelStore } from '../store/channel-store.ts';
import { hasComposite, type ChannelSpec, type Layout } from './channel-spec.ts';

export type ChannelState = 'idle' | 'live' | 'deleted';

export interface ChannelView {
  record: ChannelRecord;
  state: ChannelState;
}

export type ChannelDeletedListener = (record: ChannelRecord) => void;

/** 192 random bits: the channel_id is the right to broadcast. */
export function newChannelId(): string {
  return randomBytes(24).toString('hex');
}

/** 128 random bits, drawn separately so a playlist URL says nothing about the channel_id. */
export function newPlaylistId(): string {
  return randomBytes(16).toString('hex');
}

export class ChannelRegistry {
  readonly #store: ChannelStore;
  readonly #live = new Set<string>();
  readonly #deletedListeners = new Set<ChannelDeletedListener>();
  readonly #now: () => Date;

  constructor(store: ChannelStore, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  create(owner: string, spec: ChannelSpec): ChannelRecord {
    const record: ChannelRecord = {
      channelId: newChannelId(),
      playlistId: newPlaylistId(),
      owner,
      createdAt: this.#now().toISOString(),
      spec,
    };
    this.#store.insert(record);
    return record;
  }

  /** The owner's channel, deleted or not; NotFound otherwise. */
  get(owner: string, channelId: string): ChannelView {
    const record = this.#store.get(channelId);
    if (record === undefined || record.owner !== owner) throw notFound(`channel ${channelId} does not exist`);
    return { record, state: this.stateOf(record) };
  }

  /** Any channel by id, for signaling, which has no API token. */
  find(channelId: string): ChannelView | undefined {
    const record = this.#store.get(channelId);
    return record === undefined ? undefined : { record, state: this.stateOf(record) };
  }

  /** Channels with someone publishing now. */
  get liveCount(): number {
    return this.#live.size;
  }

  /** Channels not deleted, all owners together. */
  countActive(): number {
    return this.#store.countActive();
  }

  /** Channels of this owner that are not deleted, oldest first. */
  listActive(owner: string): ChannelRecord[] {
    return this.#store.listByOwner(owner).filter((record) => record.deletedAt === undefined);
  }

  /** Ends a channel for good. Deleting a deleted channel answers the same record again (retries are safe). */
  delete(owner: string, channelId: string): ChannelView {
    const { record } = this.get(owner, channelId);
    if (record.deletedAt !== undefined) return { record, state: 'deleted' };
    const deletedAt = this.#now().toISOString();
    this.#store.markDeleted(channelId, deletedAt);
    this.#live.delete(channelId);
    const deleted: ChannelRecord = { ...record, deletedAt };
    for (const listener of this.#deletedListeners) {
      try {
        listener(deleted);
      } catch {
        // Observers never break the API; each listener logs its own failures.
      }
    }
    return { record: deleted, state: 'deleted' };
  }

  /** Sets the composite's layout of a channel that is not deleted; the new record. */
  updateLayout(owner: string, channelId: string, layout: Layout): ChannelRecord {
    const { record } = this.get(owner, channelId);
    if (record.deletedAt !== undefined) throw notFound(`channel ${channelId} was deleted`);
    if (!hasComposite(record.spec)) {
      throw invalidParameter(`channel ${channelId} has no composite playlist, so no layout`);
    }
    const spec: ChannelSpec = { ...record.spec, layout };
    if (!this.#store.updateSpec(channelId, spec)) throw notFound(`channel ${channelId} was deleted`);
    return { ...record, spec };
  }

  stateOf(record: ChannelRecord): ChannelState {
    if (record.deletedAt !== undefined) return 'deleted';
    return this.#live.has(record.channelId) ? 'live' : 'idle';
  }

  /** Called by the media pipeline when a channel starts or stops flowing. */
  setLive(channelId: string, live: boolean): void {
    if (live) this.#live.add(channelId);
    else this.#live.delete(channelId);
  }

  onDeleted(listener: ChannelDeletedListener): () => void {
    this.#deletedListeners.add(listener);
    return () => this.#deletedListeners.delete(listener);
  }
}
