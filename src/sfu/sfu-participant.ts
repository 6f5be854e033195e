/**
 * One connection of a channel on the SFU side: its werift peer connection, its own upstream transceivers
 * (first in the SDP, as sora-js-sdk binds its camera to the first matching m-lines: SORA-PROTOCOL.md §5.1),
 * and one sendonly audio/video pair per other publisher, with `a=msid:<publisher connection_id> <track>`.
 *
 * The server is always the offerer. Re-offers are serialised: never before the client's answer, one in flight,
 * and changes made meanwhile are folded into the next one.
 */
import { MediaStream, RTCPeerConnection, type RTCRtpTransceiver, type RTCIceCandidate } from 'werift';
import type { Role } from '../signaling/signaling-message.ts';
import type { VideoCodecName } from '../rtp/keyframe.ts';
import { peerCodecs, peerHeaderExtensions, videoCodecName } from './codecs.ts';
import { PublishedTrack, type TrackKind } from './published-track.ts';
import { answerShapeProblem } from './sdp-shape.ts';
import { installSrtpKeyObjects } from './srtp-keys.ts';

export interface NetworkOptions {
  /** Addresses announced as host candidates besides the interfaces' own (loopback by default). */
  additionalHostAddresses: readonly string[];
  /** UDP ports to bind, inclusive; undefined for any. */
  udpPortRange: readonly [number, number] | undefined;
  /** Seconds to wait for ICE gathering before sending what there is. */
  gatherTimeoutMs: number;
}

export interface ParticipantInfo {
  connectionId: string;
  clientId: string;
  bundleId: string;
  role: Role;
  audio: boolean;
  video: boolean;
  videoCodec: VideoCodecName;
  /** `signaling_notify_metadata`: shared with the channel in notify messages (never the connect metadata). */
  notifyMetadata: unknown;
  createdAt: Date;
}

export interface ParticipantHooks {
  /** Sends a signaling message to this connection's client. */
  send(message: Record<string, unknown>): void;
  onConnected(participant: SfuParticipant): void;
  /** The peer connection failed or closed by itself. */
  onPeerClosed(participant: SfuParticipant, reason: string): void;
  onUpstreamTrack(participant: SfuParticipant, track: PublishedTrack): void;
}

interface Downstream {
  published: PublishedTrack;
  transceiver: RTCRtpTransceiver;
}

export class SfuParticipant {
  readonly info: ParticipantInfo;
  readonly #hooks: ParticipantHooks;
  readonly #pc: RTCPeerConnection;
  readonly #network: NetworkOptions;
  readonly #published = new Map<TrackKind, PublishedTrack>();
  /** Key: `${publisherId}/${kind}`. */
  readonly #downstream = new Map<string, Downstream>();
  readonly #upstream = new Map<TrackKind, RTCRtpTransceiver>();
  #answered = false;
  #offerInFlight = false;
  #renegotiationWanted = false;
  #connected = false;
  #closed = false;

  constructor(info: ParticipantInfo, hooks: ParticipantHooks, network: NetworkOptions) {
    this.info = info;
    this.#hooks = hooks;
    this.#network = network;
    installSrtpKeyObjects();
    this.#pc = new RTCPeerConnection({
      codecs: peerCodecs(),
      headerExtensions: peerHeaderExtensions(),
      bundlePolicy: 'max-bundle',
      iceAdditionalHostAddresses: [...network.additionalHostAddresses],
      icePortRange: network.udpPortRange === undefined ? undefined : [...network.udpPortRange],
    });
  }

  get sends(): boolean {
    return this.info.role !== 'recvonly';
  }

  get receives(): boolean {
    return this.info.role !== 'sendonly';
  }

  get connected(): boolean {
    return this.#connected;
  }

  get publishedTracks(): PublishedTrack[] {
    return [...this.#published.values()];
  }

  /** Builds the first offer: own upstream m-lines, then the tracks of those already publishing. */
  async createOffer(
    existing: readonly PublishedTrack[],
  ): Promise<{ sdp: string; mid: { audio?: string; video?: string } }> {
    const pc = this.#pc;
    pc.connectionStateChange.subscribe((state) => {
      this.#onConnectionState(state);
    });
    if (this.sends) {
      if (this.info.audio) this.#addUpstream('audio');
      if (this.info.video) this.#addUpstream('video');
    }
    if (this.#upstream.size === 0 && (existing.length === 0 || !this.receives)) {
      // An offer without media sections would set up no ICE/DTLS transport, and the SDK waits for
      // "connected" until it times out (a recvonly client in an empty channel). An inactive m-line anchors it.
      pc.addTransceiver('audio', { direction: 'inactive' });
    }
    if (this.receives) for (const track of existing) this.addDownstream(track, { negotiate: false });
    await pc.setLocalDescription(await pc.createOffer());
    const sdp = await this.#localSdpWithCandidates();
    const mid: { audio?: string; video?: string } = {};
    const audioMid = this.#upstream.get('audio')?.mid;
    const videoMid = this.#upstream.get('video')?.mid;
    if (audioMid !== null && audioMid !== undefined) mid.audio = audioMid;
    if (videoMid !== null && videoMid !== undefined) mid.video = videoMid;
    this.#offerInFlight = true;
    return { sdp, mid };
  }

  async applyAnswer(sdp: string): Promise<void> {
    if (this.#answered || !this.#offerInFlight) throw new Error('no offer is waiting for an answer');
    this.#checkAnswerShape(sdp);
    await this.#pc.setRemoteDescription({ type: 'answer', sdp });
    this.#answered = true;
    this.#offerFinished();
  }

  async applyReanswer(sdp: string): Promise<void> {
    if (!this.#answered || !this.#offerInFlight) throw new Error('no re-offer is waiting for an answer');
    this.#checkAnswerShape(sdp);
    await this.#pc.setRemoteDescription({ type: 'answer', sdp });
    this.#offerFinished();
  }

  async addCandidate(candidate: RTCIceCandidate): Promise<void> {
    await this.#pc.addIceCandidate(candidate);
  }

  /** Starts sending a publisher's track to this connection. */
  addDownstream(published: PublishedTrack, { negotiate = true } = {}): void {
    if (this.#closed || !this.receives) return;
    const key = `${published.publisherId}/${published.kind}`;
    if (this.#downstream.has(key)) return;
    const track = published.subscribe(this.info.connectionId);
    const transceiver = this.#pc.addTransceiver(track, {
      direction: 'sendonly',
      streams: [new MediaStream({ id: published.publisherId })],
    });
    if (published.videoCodec !== undefined) {
      const codec = peerCodecs().video.find((c) => videoCodecName(c.mimeType) === published.videoCodec);
      if (codec !== undefined) transceiver.setCodecPreferences([codec]);
    }
    transceiver.sender.onPictureLossIndication.subscribe(() => {
      published.requestKeyframe();
    });
    this.#downstream.set(key, { published, transceiver });
    if (negotiate) this.#negotiate();
  }

  /** Stops sending a publisher's tracks; the next offer sets their m-lines to port 0. */
  removeDownstream(publisherId: string): void {
    let changed = false;
    for (const [key, downstream] of this.#downstream) {
      if (downstream.published.publisherId !== publisherId) continue;
      downstream.published.unsubscribe(this.info.connectionId);
      downstream.transceiver.stop();
      this.#downstream.delete(key);
      changed = true;
    }
    if (changed) this.#negotiate();
  }

  /** What this connection sends and receives, for diagnostics and the admin page. */
  describe(): Record<string, unknown> {
    return {
      connectionId: this.info.connectionId,
      role: this.info.role,
      connected: this.#connected,
      signalingState: this.#pc.signalingState,
      published: this.publishedTracks.map((track) => ({
        kind: track.kind,
        codec: track.videoCodec,
        ...track.stats(),
      })),
      downstream: [...this.#downstream.values()].map(({ published, transceiver }) => ({
        publisherId: published.publisherId,
        kind: published.kind,
        mid: transceiver.mid,
        direction: transceiver.direction,
        currentDirection: transceiver.currentDirection,
        payloadType: transceiver.sender.codec?.payloadType,
        mimeType: transceiver.sender.codec?.mimeType,
      })),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const track of this.#published.values()) track.close();
    for (const downstream of this.#downstream.values())
      downstream.published.unsubscribe(this.info.connectionId);
    this.#downstream.clear();
    await this.#pc.close();
  }

  #checkAnswerShape(sdp: string): void {
    const problem = answerShapeProblem(this.#pc.localDescription?.sdp ?? '', sdp);
    if (problem !== undefined) throw new Error(problem);
  }

  #addUpstream(kind: TrackKind): void {
    const transceiver = this.#pc.addTransceiver(kind, { direction: 'recvonly' });
    if (kind === 'video') {
      const codec = peerCodecs().video.find((c) => videoCodecName(c.mimeType) === this.info.videoCodec);
      if (codec !== undefined) transceiver.setCodecPreferences([codec]);
    }
    this.#upstream.set(kind, transceiver);
    transceiver.onTrack.subscribe((track) => {
      if (this.#closed || this.#published.has(kind)) return;
      const mimeType = track.codec?.mimeType ?? transceiver.codecs[0]?.mimeType ?? '';
      const published = new PublishedTrack({
        publisherId: this.info.connectionId,
        clientId: this.info.clientId,
        kind,
        videoCodec: kind === 'video' ? videoCodecName(mimeType) : undefined,
        source: track,
        sendKeyframeRequest: () => {
          if (track.ssrc !== undefined)
            void transceiver.receiver.sendRtcpPLI(track.ssrc).catch(() => undefined);
        },
        transportStats: async () => {
          const totals = { nacksSent: 0, plisSent: 0, packetsLost: 0 };
          for (const entry of (await transceiver.receiver.getStats()).values()) {
            const stats = entry as {
              type?: string;
              nackCount?: number;
              pliCount?: number;
              packetsLost?: number;
            };
            if (stats.type !== 'inbound-rtp') continue;
            totals.nacksSent += stats.nackCount ?? 0;
            totals.plisSent += stats.pliCount ?? 0;
            totals.packetsLost += stats.packetsLost ?? 0;
          }
          return totals;
        },
      });
      this.#published.set(kind, published);
      published.start();
      this.#hooks.onUpstreamTrack(this, published);
    });
  }

  #onConnectionState(state: string): void {
    if (state === 'connected' && !this.#connected) {
      this.#connected = true;
      this.#activateDownstreams();
      this.#hooks.onConnected(this);
    } else if ((state === 'failed' || state === 'closed') && !this.#closed) {
      this.#hooks.onPeerClosed(this, `peer connection ${state}`);
    }
  }

  #offerFinished(): void {
    this.#offerInFlight = false;
    this.#activateDownstreams();
    if (this.#renegotiationWanted) this.#negotiate();
  }

  /** Starts the flow on every downstream whose m-line the client has accepted, once the transport is up. */
  #activateDownstreams(): void {
    if (!this.#connected || !this.#answered) return;
    for (const { published, transceiver } of this.#downstream.values()) {
      if (transceiver.currentDirection === 'sendonly' || transceiver.currentDirection === 'sendrecv') {
        published.activate(this.info.connectionId);
      }
    }
  }

  #negotiate(): void {
    if (this.#closed) return;
    if (!this.#answered || this.#offerInFlight) {
      this.#renegotiationWanted = true;
      return;
    }
    this.#renegotiationWanted = false;
    this.#offerInFlight = true;
    void this.#sendReoffer().catch((err: unknown) => {
      if (!this.#closed) this.#hooks.onPeerClosed(this, `re-offer failed: ${(err as Error).message}`);
    });
  }

  async #sendReoffer(): Promise<void> {
    await this.#pc.setLocalDescription(await this.#pc.createOffer());
    if (this.#closed) return;
    this.#hooks.send({ type: 're-offer', sdp: await this.#localSdpWithCandidates() });
  }

  async #localSdpWithCandidates(): Promise<string> {
    const pc = this.#pc;
    if (pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, this.#network.gatherTimeoutMs);
        const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
          if (state === 'complete') finish();
        });
        function finish(): void {
          clearTimeout(timer);
          unSubscribe();
          resolve();
        }
      });
    }
    const sdp = pc.localDescription?.sdp;
    if (sdp === undefined) throw new Error('no local description');
    return sdp;
  }
}
