/**
 * One signaling WebSocket: the Sora protocol from `connect` to close (shared/SORA-PROTOCOL.md §2).
 * Bad input ends the session with a 4xxx code and a readable reason, or is dropped and counted; it never
 * throws out of here. Messages are handled one at a time, in order.
 */
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { ChannelRegistry } from '../channel/channel-registry.ts';
import type { IceServer } from '../config.ts';
import { monotonicMs } from '../lib/clock.ts';
import { TokenBucket } from '../lib/rate-limiter.ts';
import { SerialQueue } from '../lib/serial-queue.ts';
import type { SfuParticipant } from '../sfu/sfu-participant.ts';
import { JoinRefused, type SfuRoom } from '../sfu/sfu-room.ts';
import type { Admission } from '../channel/admission.ts';
import type { Sfu } from '../sfu/sfu.ts';
import { askAuthWebhook } from './auth-webhook.ts';
import { refuseWebhookTarget } from '../lib/webhook-target.ts';
import { closeCodes, closeReason } from './close-codes.ts';
import { parseClientMessage, type ClientMessage, type ConnectMessage } from './signaling-message.ts';
import { newSoraId } from './sora-id.ts';
import { version } from '../version.ts';

export interface SignalingOptions {
  connectTimeoutMs: number;
  answerTimeoutMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  authWebhookTimeoutMs: number;
  /** Whether the auth webhook may be on a loopback, private or link-local address. */
  allowPrivateWebhooks?: boolean;
  messagesPerSecond: number;
  messageBurst: number;
  /** Handed to clients in `offer.config.iceServers`. */
  iceServers: readonly IceServer[];
}

export interface SignalingCounters {
  sessions: number;
  badMessages: number;
  unknownMessages: number;
  droppedCandidates: number;
  floods: number;
  /** Upgrades refused because the page's Origin is not allowed. */
  refusedOrigins: number;
}

export interface SessionDeps {
  registry: ChannelRegistry;
  sfu: Sfu;
  /** Limits on connections, publishers and encoding; none in tests that do not set them. */
  admission?: Admission | undefined;
  log: Logger;
  options: SignalingOptions;
  counters: SignalingCounters;
}

type State = 'waiting-connect' | 'connecting' | 'offered' | 'answered' | 'closed';

class SessionClosed extends Error {}

export class SignalingSession {
  readonly #ws: WebSocket;
  readonly #deps: SessionDeps;
  readonly #queue = new SerialQueue();
  readonly #bucket: TokenBucket;
  #log: Logger;
  #state: State = 'waiting-connect';
  #timers = new Set<NodeJS.Timeout>();
  #stateTimer: NodeJS.Timeout | undefined;
  #room: SfuRoom | undefined;
  #participant: SfuParticipant | undefined;
  #connectionId: string | undefined;
  #lastPongMs = 0;
  #resolveClosed: () => void = () => undefined;
  readonly closed: Promise<void>;

  constructor(ws: WebSocket, deps: SessionDeps) {
    this.#ws = ws;
    this.#deps = deps;
    this.#log = deps.log;
    this.#bucket = new TokenBucket(deps.options.messagesPerSecond, deps.options.messageBurst);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  start(): void {
    this.#ws.on('message', (data, isBinary) => {
      this.#onFrame(data, isBinary);
    });
    this.#ws.on('close', () => {
      void this.#teardown('websocket closed');
    });
    this.#ws.on('error', (err) => {
      this.#log.debug({ err }, 'websocket error');
    });
    this.#setStateTimer(this.#deps.options.connectTimeoutMs, 'no connect message in time');
  }

  /** Ends the session: closes the socket with `code`, then releases the connection. */
  close(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.#log.info({ code, reason }, 'closing signaling');
    if (this.#ws.readyState === this.#ws.OPEN || this.#ws.readyState === this.#ws.CONNECTING) {
      this.#ws.close(code, closeReason(reason));
      // A client that never completes the closing handshake is cut off.
      const kill = setTimeout(() => {
        this.#ws.terminate();
      }, 2000);
      kill.unref();
    }
    void this.#teardown(reason);
  }

  #send(message: Record<string, unknown>): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(JSON.stringify(message));
  }

  #onFrame(data: RawData, isBinary: boolean): void {
    if (this.#state === 'closed') return;
    const counters = this.#deps.counters;
    if (!this.#bucket.take(monotonicMs())) {
      counters.floods += 1;
      this.close(closeCodes.tooManyMessages, 'too many messages');
      return;
    }
    if (isBinary) {
      counters.badMessages += 1;
      this.close(closeCodes.badMessage, 'binary frames are not accepted; send JSON text');
      return;
    }
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    const text = bytes.toString('utf8');
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      counters.badMessages += 1;
      this.close(closeCodes.badMessage, parsed.reason);
      return;
    }
    const message = parsed.message;
    if (message.type === 'pong') {
      this.#lastPongMs = monotonicMs();
      return;
    }
    if (message.type === 'unknown') {
      counters.unknownMessages += 1;
      this.#log.debug({ type: message.name }, 'unknown signaling message dropped');
      return;
    }
    void this.#queue
      .run(() => this.#handle(message))
      .catch((err: unknown) => {
        if (err instanceof SessionClosed || this.#state === 'closed') return;
        this.#log.error({ err }, 'signaling failed');
        this.close(closeCodes.internalError, 'INTERNAL-ERROR');
      });
  }

  async #handle(message: Exclude<ClientMessage, { type: 'pong' | 'unknown' }>): Promise<void> {
    if (this.#state === 'closed') return;
    switch (message.type) {
      case 'connect':
        if (this.#state !== 'waiting-connect') {
          this.#reject(closeCodes.badMessage, 'connect was already received');
          return;
        }
        await this.#connect(message);
        return;
      case 'answer':
        if (this.#state !== 'offered' || this.#participant === undefined) {
          this.#reject(closeCodes.badMessage, 'answer without an offer');
          return;
        }
        await this.#applySdp(() => this.#participant?.applyAnswer(message.sdp), 'answer');
        this.#state = 'answered';
        this.#clearStateTimer();
        this.#startPings();
        return;
      case 're-answer':
      case 'update':
        if (this.#state !== 'answered') {
          this.#reject(closeCodes.badMessage, `${message.type} before the answer`);
          return;
        }
        await this.#applySdp(() => this.#participant?.applyReanswer(message.sdp), message.type);
        return;
      case 'candidate':
        await this.#addCandidate(message.candidate, message.sdpMid, message.sdpMLineIndex);
        return;
      case 'disconnect':
        this.close(closeCodes.normal, 'NO-ERROR');
        return;
    }
  }

  #reject(code: number, reason: string): void {
    this.#deps.counters.badMessages += 1;
    this.close(code, reason);
  }

  async #applySdp(apply: () => Promise<void> | undefined, what: string): Promise<void> {
    try {
      await apply();
    } catch (err) {
      this.#reject(closeCodes.badMessage, `${what} SDP was rejected: ${(err as Error).message}`);
      throw new SessionClosed();
    }
  }

  async #addCandidate(candidate: string, sdpMid?: string, sdpMLineIndex?: number): Promise<void> {
    if (candidate === '' || this.#participant === undefined) return;
    try {
      await this.#participant.addCandidate({
        candidate,
        ...(sdpMid === undefined ? {} : { sdpMid }),
        ...(sdpMLineIndex === undefined ? {} : { sdpMLineIndex }),
      } as never);
    } catch (err) {
      this.#deps.counters.droppedCandidates += 1;
      this.#log.debug({ err }, 'candidate dropped');
    }
  }

  async #connect(message: ConnectMessage): Promise<void> {
    this.#state = 'connecting';
    this.#clearStateTimer();
    const { registry, sfu, options } = this.#deps;
    if (message.videoCodecType === 'AV1' || message.videoCodecType === 'H265') {
      this.close(
        closeCodes.unsupported,
        `video codec ${message.videoCodecType} is not supported; use H264, VP8 or VP9`,
      );
      return;
    }
    const channel = registry.find(message.channelId);
    if (channel === undefined || channel.state === 'deleted') {
      const why = channel === undefined ? 'does not exist' : 'was deleted';
      this.close(closeCodes.channelNotFound, `channel ${message.channelId.slice(0, 64)} ${why}`);
      return;
    }
    const connectionId = newSoraId();
    this.#connectionId = connectionId;
    this.#log = this.#log.child({ channel: message.channelId.slice(0, 8), connection: connectionId });
    let clientId =
      message.clientId !== undefined && message.clientId !== '' ? message.clientId : connectionId;
    let bundleId =
      message.bundleId !== undefined && message.bundleId !== '' ? message.bundleId : connectionId;
    let notifyMetadata = message.signalingNotifyMetadata;
    let authMetadata: unknown;

    // Refused early when already over a limit, before asking the auth webhook; asked again in the room's queue.
    const { admission } = this.#deps;
    const admit = (counts: { all: number; sendrecv: number; sendonly: number }): string | undefined =>
      admission?.refuseConnection(channel.record, message.role, counts);
    const early = admit(
      sfu.existingRoom(message.channelId)?.counts() ?? { all: 0, sendrecv: 0, sendonly: 0 },
    );
    if (early !== undefined) {
      this.close(closeCodes.unavailable, early);
      return;
    }

    const webhookUrl = channel.record.spec.authWebhookUrl;
    if (webhookUrl !== undefined) {
      const counts = sfu.existingRoom(message.channelId)?.counts() ?? {
        all: 0,
        sendrecv: 0,
        sendonly: 0,
        recvonly: 0,
      };
      const refused = await refuseWebhookTarget(webhookUrl, options.allowPrivateWebhooks ?? false);
      if (this.#isClosed()) return;
      if (refused !== undefined) {
        this.#log.warn({ webhookUrl, refused }, 'auth webhook not called');
        this.close(closeCodes.unauthorized, 'auth webhook address not allowed');
        return;
      }
      const decision = await askAuthWebhook(
        webhookUrl,
        {
          timestamp: new Date().toISOString(),
          version,
          label: 'Nagare',
          node_name: 'nagare',
          role: message.role,
          channel_id: message.channelId,
          client_id: clientId,
          bundle_id: bundleId,
          connection_id: connectionId,
          multistream: true,
          simulcast: false,
          spotlight: false,
          audio: message.audio,
          video: message.video,
          ...(message.videoCodecType === undefined ? {} : { video_codec_type: message.videoCodecType }),
          ...(message.audio ? { audio_codec_type: 'OPUS' } : {}),
          data_channel_signaling: false,
          ignore_disconnect_websocket: false,
          metadata: message.metadata ?? null,
          ...(message.soraClient === undefined ? {} : { sora_client: message.soraClient }),
          channel_connections: counts.all,
          channel_sendrecv_connections: counts.sendrecv,
          channel_sendonly_connections: counts.sendonly,
          channel_recvonly_connections: counts.recvonly,
          e2ee: false,
        },
        connectionId,
        options.authWebhookTimeoutMs,
        options.allowPrivateWebhooks ?? false,
      );
      if (this.#isClosed()) return;
      if (!decision.allowed) {
        this.close(closeCodes.unauthorized, decision.reason);
        return;
      }
      authMetadata = decision.metadata;
      clientId = decision.clientId ?? clientId;
      bundleId = decision.bundleId ?? bundleId;
      notifyMetadata = decision.notifyMetadata ?? notifyMetadata;
    }

    // The room is taken only now: a refused connection must not leave an empty room behind.
    const room = sfu.room(message.channelId);
    this.#room = room;
    let joined: Awaited<ReturnType<SfuRoom['join']>>;
    try {
      joined = await room.join(
        {
          connectionId,
          clientId,
          bundleId,
          role: message.role,
          audio: message.audio,
          video: message.video,
          videoCodec: message.videoCodecType ?? 'H264',
          notifyMetadata,
          createdAt: new Date(),
        },
        {
          send: (out) => {
            this.#send(out);
          },
          close: (code, reason) => {
            this.close(code, reason);
          },
        },
        message.signalingNotify,
        admit,
      );
    } catch (err) {
      if (!(err instanceof JoinRefused)) throw err;
      this.close(closeCodes.unavailable, err.message);
      return;
    }
    if (this.#isClosed()) {
      await room.leave(connectionId);
      return;
    }
    this.#participant = joined.participant;
    this.#send({
      type: 'offer',
      sdp: joined.offer.sdp,
      connection_id: connectionId,
      client_id: clientId,
      bundle_id: bundleId,
      session_id: room.sessionId,
      channel_id: message.channelId,
      simulcast: false,
      spotlight: false,
      multistream: true,
      mid: joined.offer.mid,
      config: { iceServers: options.iceServers },
      ...(authMetadata === undefined ? {} : { metadata: authMetadata }),
    });
    this.#state = 'offered';
    this.#setStateTimer(options.answerTimeoutMs, 'no answer in time');
    this.#log.info({ role: message.role, client: message.soraClient }, 'connection offered');
  }

  /** A method, so that TypeScript does not narrow the state across awaits. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #startPings(): void {
    const { pingIntervalMs, pongTimeoutMs } = this.#deps.options;
    this.#lastPongMs = monotonicMs();
    const timer = setInterval(() => {
      if (monotonicMs() - this.#lastPongMs > pongTimeoutMs) {
        this.close(closeCodes.timeout, 'PONG-TIMEOUT-ERROR');
        return;
      }
      this.#send({ type: 'ping', stats: false });
    }, pingIntervalMs);
    this.#timers.add(timer);
  }

  #setStateTimer(ms: number, reason: string): void {
    this.#clearStateTimer();
    this.#stateTimer = setTimeout(() => {
      this.close(closeCodes.timeout, reason);
    }, ms);
  }

  #clearStateTimer(): void {
    if (this.#stateTimer !== undefined) clearTimeout(this.#stateTimer);
    this.#stateTimer = undefined;
  }

  async #teardown(reason: string): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearStateTimer();
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.clear();
    try {
      await this.#queue.close();
      if (this.#room !== undefined && this.#connectionId !== undefined)
        await this.#room.leave(this.#connectionId);
    } catch (err) {
      this.#log.error({ err }, 'teardown failed');
    } finally {
      this.#log.debug({ reason }, 'signaling session ended');
      this.#resolveClosed();
    }
  }
}
