/**
 * The connections of one channel on the SFU: who publishes what, who receives whom, and the Sora `notify`
 * events about joins and leaves. Every change runs through one serial queue, so joins, leaves and new tracks
 * never interleave across awaits.
 */
import type { Logger } from 'pino';
import { SerialQueue } from '../lib/serial-queue.ts';
import { newSoraId } from '../signaling/sora-id.ts';
import type { PublishedTrack } from './published-track.ts';
import {
  SfuParticipant,
  type NetworkOptions,
  type ParticipantHooks,
  type ParticipantInfo,
} from './sfu-participant.ts';

/** What a room needs from the signaling side of each connection. */
export interface ConnectionSink {
  send(message: Record<string, unknown>): void;
  /** Ends the connection (closes its WebSocket); the signaling side then calls `leave`. */
  close(code: number, reason: string): void;
}

export interface JoinedConnection {
  participant: SfuParticipant;
  offer: { sdp: string; mid: { audio?: string; video?: string } };
}

/** A join the room's admission refused; `message` is the reason the client is told. */
export class JoinRefused extends Error {
  override name = 'JoinRefused';
}

export interface RoomHooks {
  /** Whether anyone is publishing media in this room changed. */
  onLiveChanged(channelId: string, live: boolean): void;
  onEmpty(room: SfuRoom): void;
  onUpstreamTrack?(channelId: string, track: PublishedTrack): void;
  /** A connection was established or ended: the Sora-shaped event webhook body (without its envelope). */
  onConnectionEvent?(channelId: string, event: Record<string, unknown>): void;
}

interface Member {
  participant: SfuParticipant;
  sink: ConnectionSink;
  signalingNotify: boolean;
}

export class SfuRoom {
  readonly channelId: string;
  readonly sessionId = newSoraId();
  readonly #members = new Map<string, Member>();
  readonly #queue = new SerialQueue();
  readonly #network: NetworkOptions;
  readonly #hooks: RoomHooks;
  readonly #log: Logger;
  #live = false;

  constructor(channelId: string, network: NetworkOptions, hooks: RoomHooks, log: Logger) {
    this.channelId = channelId;
    this.#network = network;
    this.#hooks = hooks;
    this.#log = log;
  }

  get size(): number {
    return this.#members.size;
  }

  participants(): SfuParticipant[] {
    return [...this.#members.values()].map((member) => member.participant);
  }

  counts(): { all: number; sendrecv: number; sendonly: number; recvonly: number } {
    const counts = { all: 0, sendrecv: 0, sendonly: 0, recvonly: 0 };
    for (const { participant } of this.#members.values()) {
      counts.all += 1;
      counts[participant.info.role] += 1;
    }
    return counts;
  }

  /**
   * Adds a connection and builds its first offer (with everyone already publishing). `admit`, asked in the room's
   * queue (so two joins never both take the last place), may refuse it: JoinRefused with its reason.
   */
  join(
    info: ParticipantInfo,
    sink: ConnectionSink,
    signalingNotify: boolean,
    admit?: (counts: ReturnType<SfuRoom['counts']>) => string | undefined,
  ): Promise<JoinedConnection> {
    return this.#queue.run(async () => {
      const refusal = admit?.(this.counts());
      if (refusal !== undefined) throw new JoinRefused(refusal);
      const hooks: ParticipantHooks = {
        send: (message) => {
          sink.send(message);
        },
        onConnected: (participant) => {
          void this.#queue.run(() => {
            this.#announceJoin(participant);
          });
        },
        onPeerClosed: (participant, reason) => {
          this.#log.info({ connectionId: participant.info.connectionId, reason }, 'peer closed');
          sink.close(4490, reason);
        },
        onUpstreamTrack: (participant, track) => {
          void this.#queue.run(() => {
            this.#distribute(participant, track);
          });
        },
      };
      const participant = new SfuParticipant(info, hooks, this.#network);
      this.#members.set(info.connectionId, { participant, sink, signalingNotify });
      const existing = [...this.#members.values()]
        .filter((member) => member.participant !== participant)
        .flatMap((member) => member.participant.publishedTracks);
      try {
        const offer = await participant.createOffer(existing);
        return { participant, offer };
      } catch (err) {
        this.#members.delete(info.connectionId);
        await participant.close();
        if (this.#members.size === 0) this.#hooks.onEmpty(this);
        throw err;
      }
    });
  }

  /** Removes a connection: its tracks leave every receiver (re-offer), and the others are notified. */
  leave(connectionId: string): Promise<void> {
    return this.#queue.run(async () => {
      const member = this.#members.get(connectionId);
      if (member === undefined) return;
      this.#members.delete(connectionId);
      const wasAnnounced = member.participant.connected;
      await member.participant.close();
      for (const other of this.#members.values()) other.participant.removeDownstream(connectionId);
      if (wasAnnounced) {
        this.#broadcastNotify('connection.destroyed', member.participant);
        this.#hooks.onConnectionEvent?.(
          this.channelId,
          this.#connectionEvent('connection.destroyed', member.participant),
        );
      }
      this.#updateLive();
      if (this.#members.size === 0) this.#hooks.onEmpty(this);
    });
  }

  /** Closes one connection from the server side (API DisconnectConnection). */
  disconnect(connectionId: string, code: number, reason: string): boolean {
    const member = this.#members.get(connectionId);
    if (member === undefined) return false;
    member.sink.close(code, reason);
    return true;
  }

  disconnectAll(code: number, reason: string): void {
    for (const member of [...this.#members.values()]) member.sink.close(code, reason);
  }

  push(data: unknown): number {
    for (const member of this.#members.values()) member.sink.send({ type: 'push', data });
    return this.#members.size;
  }

  #distribute(publisher: SfuParticipant, track: PublishedTrack): void {
    if (!this.#members.has(publisher.info.connectionId)) return;
    for (const member of this.#members.values()) {
      if (member.participant !== publisher) member.participant.addDownstream(track);
    }
    this.#hooks.onUpstreamTrack?.(this.channelId, track);
    this.#updateLive();
  }

  #updateLive(): void {
    const live = [...this.#members.values()].some((member) => member.participant.publishedTracks.length > 0);
    if (live !== this.#live) {
      this.#live = live;
      this.#hooks.onLiveChanged(this.channelId, live);
    }
  }

  #announceJoin(participant: SfuParticipant): void {
    const joined = this.#members.get(participant.info.connectionId);
    if (joined === undefined) return;
    const data = [...this.#members.values()].map(({ participant: p }) => ({
      client_id: p.info.clientId,
      connection_id: p.info.connectionId,
      ...(p.info.notifyMetadata === undefined ? {} : { metadata: p.info.notifyMetadata }),
    }));
    for (const member of this.#members.values()) {
      if (!member.signalingNotify) continue;
      const message = this.#notifyMessage('connection.created', participant);
      if (member === joined) message['data'] = data;
      member.sink.send(message);
    }
    this.#hooks.onConnectionEvent?.(this.channelId, this.#connectionEvent('connection.created', participant));
  }

  /**
   * A Sora event webhook body (shared/SORA-PROTOCOL.md §8) for `connection.created` / `connection.destroyed`; the
   * sender adds `id`, `timestamp`, `version`, `label` and `node_name`.
   */
  #connectionEvent(type: string, subject: SfuParticipant): Record<string, unknown> {
    const counts = this.counts();
    const { info } = subject;
    let receivedBytes = 0;
    for (const track of subject.publishedTracks) receivedBytes += track.stats().bytes;
    const now = new Date();
    return {
      type,
      role: info.role,
      channel_id: this.channelId,
      session_id: this.sessionId,
      client_id: info.clientId,
      bundle_id: info.bundleId,
      connection_id: info.connectionId,
      multistream: true,
      simulcast: false,
      spotlight: false,
      data: {
        minutes: Math.floor((now.getTime() - info.createdAt.getTime()) / 60_000),
        audio: info.audio,
        video: info.video,
        channel_connections: counts.all,
        channel_sendrecv_connections: counts.sendrecv,
        channel_sendonly_connections: counts.sendonly,
        channel_recvonly_connections: counts.recvonly,
        turn_transport_type: 'udp',
        created_time: Math.floor(info.createdAt.getTime() / 1000),
        created_timestamp: info.createdAt.toISOString(),
        total_received_bytes: receivedBytes,
      },
      ...(type === 'connection.destroyed'
        ? { destroyed_time: Math.floor(now.getTime() / 1000), destroyed_timestamp: now.toISOString() }
        : {}),
    };
  }

  #broadcastNotify(eventType: string, subject: SfuParticipant): void {
    for (const member of this.#members.values()) {
      if (member.signalingNotify) member.sink.send(this.#notifyMessage(eventType, subject));
    }
  }

  #notifyMessage(eventType: string, subject: SfuParticipant): Record<string, unknown> {
    const counts = this.counts();
    const { info } = subject;
    return {
      type: 'notify',
      event_type: eventType,
      role: info.role,
      session_id: this.sessionId,
      client_id: info.clientId,
      bundle_id: info.bundleId,
      connection_id: info.connectionId,
      audio: info.audio,
      video: info.video,
      minutes: Math.floor((Date.now() - info.createdAt.getTime()) / 60_000),
      channel_connections: counts.all,
      channel_sendrecv_connections: counts.sendrecv,
      channel_sendonly_connections: counts.sendonly,
      channel_recvonly_connections: counts.recvonly,
      turn_transport_type: 'udp',
      timestamp: new Date().toISOString(),
      ...(info.notifyMetadata === undefined ? {} : { metadata: info.notifyMetadata }),
    };
  }

  async close(code: number, reason: string): Promise<void> {
    this.disconnectAll(code, reason);
    await this.#queue.run(async () => {
      for (const member of this.#members.values()) await member.participant.close();
      this.#members.clear();
    });
  }
}
