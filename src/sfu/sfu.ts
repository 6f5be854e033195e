/**
 * The SFU: one room per channel with connections, created on the first join and dropped when empty.
 * The API (DisconnectChannel, DisconnectConnection, ListChannelConnections, PushChannel) and channel deletion
 * reach connections through here.
 */
import type { Logger } from 'pino';
import type { PublishedTrack } from './published-track.ts';
import type { NetworkOptions } from './sfu-participant.ts';
import { SfuRoom } from './sfu-room.ts';

export interface SfuHooks {
  onLiveChanged(channelId: string, live: boolean): void;
  onUpstreamTrack?(channelId: string, track: PublishedTrack): void;
  /** `connection.created` / `connection.destroyed`, Sora-shaped (see SfuRoom). */
  onConnectionEvent?(channelId: string, event: Record<string, unknown>): void;
}

export interface ConnectionListing {
  channel_id: string;
  session_id: string;
  client_id: string;
  bundle_id: string;
  connection_id: string;
  role: string;
  audio: boolean;
  video: boolean;
  simulcast: false;
  spotlight: false;
  multistream: true;
  created_time: string;
}

export class Sfu {
  readonly #rooms = new Map<string, SfuRoom>();
  readonly #network: NetworkOptions;
  readonly #hooks: SfuHooks;
  readonly #log: Logger;

  constructor(network: NetworkOptions, hooks: SfuHooks, log: Logger) {
    this.#network = network;
    this.#hooks = hooks;
    this.#log = log;
  }

  room(channelId: string): SfuRoom {
    let room = this.#rooms.get(channelId);
    if (room === undefined) {
      room = new SfuRoom(
        channelId,
        this.#network,
        {
          onLiveChanged: (id, live) => {
            this.#hooks.onLiveChanged(id, live);
          },
          onEmpty: (emptied) => {
            if (this.#rooms.get(emptied.channelId) === emptied) this.#rooms.delete(emptied.channelId);
          },
          onUpstreamTrack: (id, track) => this.#hooks.onUpstreamTrack?.(id, track),
          onConnectionEvent: (id, event) => this.#hooks.onConnectionEvent?.(id, event),
        },
        this.#log.child({ channel: channelId.slice(0, 8) }),
      );
      this.#rooms.set(channelId, room);
    }
    return room;
  }

  existingRoom(channelId: string): SfuRoom | undefined {
    return this.#rooms.get(channelId);
  }

  /** Connections of every channel by role. */
  roleCounts(): { sendrecv: number; sendonly: number; recvonly: number } {
    const totals = { sendrecv: 0, sendonly: 0, recvonly: 0 };
    for (const room of this.#rooms.values()) {
      const counts = room.counts();
      totals.sendrecv += counts.sendrecv;
      totals.sendonly += counts.sendonly;
      totals.recvonly += counts.recvonly;
    }
    return totals;
  }

  connectionCount(): number {
    let total = 0;
    for (const room of this.#rooms.values()) total += room.size;
    return total;
  }

  /** RTP payload bytes received from the channel's publishers connected now. */
  ingestBytes(channelId: string): number {
    let bytes = 0;
    for (const participant of this.#rooms.get(channelId)?.participants() ?? []) {
      for (const track of participant.publishedTracks) bytes += track.stats().bytes;
    }
    return bytes;
  }

  listConnections(channelId: string): ConnectionListing[] {
    const room = this.#rooms.get(channelId);
    if (room === undefined) return [];
    return room.participants().map(({ info }) => ({
      channel_id: channelId,
      session_id: room.sessionId,
      client_id: info.clientId,
      bundle_id: info.bundleId,
      connection_id: info.connectionId,
      role: info.role,
      audio: info.audio,
      video: info.video,
      simulcast: false,
      spotlight: false,
      multistream: true,
      created_time: info.createdAt.toISOString(),
    }));
  }

  disconnectChannel(channelId: string, code: number, reason: string): void {
    this.#rooms.get(channelId)?.disconnectAll(code, reason);
  }

  disconnectConnection(channelId: string, connectionId: string, code: number, reason: string): boolean {
    return this.#rooms.get(channelId)?.disconnect(connectionId, code, reason) ?? false;
  }

  push(channelId: string, data: unknown): number {
    return this.#rooms.get(channelId)?.push(data) ?? 0;
  }

  async close(code: number, reason: string): Promise<void> {
    const rooms = [...this.#rooms.values()];
    this.#rooms.clear();
    await Promise.all(rooms.map((room) => room.close(code, reason)));
  }
}
