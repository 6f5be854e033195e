/**
 * A publisher without a browser: a werift peer that connects to Nagare's Sora signaling as `sendonly` and sends
 * the RTP a Chromium publisher sent (testdata/rtp/h264-opus.jsonl, H.264 640x480 + Opus), in real time and
 * looped: each loop's sequence numbers and RTP timestamps continue the last one's, so the server sees one
 * endless publisher. werift's sender adds its own SSRC, header extensions and Sender Reports, as any WebRTC
 * sender does. The capture begins on a keyframe, so every loop starts with one; PLIs are not answered.
 */
import { RtpPacket, MediaStreamTrack, RTCPeerConnection, type RTCRtpTransceiver } from 'werift';
import WebSocket, { type RawData } from 'ws';
import { peerCodecs, peerHeaderExtensions } from '../../src/sfu/codecs.ts';
import { readCapture, type CapturedPacket } from './rtp-capture.ts';
import { rawText } from './signaling-client.ts';

const capturePath = new URL('../../testdata/rtp/h264-opus.jsonl', import.meta.url).pathname;
const clockRates = { audio: 48_000, video: 90_000 } as const;
/** Gap left after the capture's last packet before the next loop begins: about a frame. */
const loopGapMs = 40;
/** How long the peer may take to connect. */
const connectTimeoutMs = 10_000;

type Kind = 'audio' | 'video';

interface Loopable {
  readonly packets: readonly { readonly t: number; readonly kind: Kind; readonly rtp: RtpPacket }[];
  readonly loopMs: number;
  /** Sequence numbers one loop spans, per track. */
  readonly seqSpan: Readonly<Record<Kind, number>>;
}

/**
 * The capture's media packets. Chromium's padding-only packets (bandwidth probes, no media) are left out: sent
 * through werift they never reached the server, which counted each as lost. The rest are renumbered without them.
 */
function loadCapture(): Loopable {
  const rtp = readCapture(capturePath).packets.filter((p: CapturedPacket) => p.type === 'rtp');
  const packets = rtp
    .map((p) => ({ t: p.t, kind: p.kind, rtp: RtpPacket.deSerialize(Buffer.from(p.data)) }))
    .filter((p) => !(p.rtp.header.padding && p.rtp.payload.length === 0));
  const seqSpan = { audio: 0, video: 0 };
  for (const kind of ['audio', 'video'] as const) {
    const track = packets.filter((p) => p.kind === kind);
    const first = track[0]?.rtp.header.sequenceNumber ?? 0;
    // The capture is short: offsets from the first packet do not wrap more than once.
    const offset = (p: (typeof track)[number]): number =>
      (p.rtp.header.sequenceNumber - first + 65_536) % 65_536;
    const bySequence = [...track].sort((a, b) => offset(a) - offset(b));
    for (const [index, p] of bySequence.entries()) p.rtp.header.sequenceNumber = (first + index) % 65_536;
    seqSpan[kind] = track.length;
  }
  return { packets, loopMs: (packets.at(-1)?.t ?? 0) + loopGapMs, seqSpan };
}

export interface ReplayPublisher {
  readonly connectionId: string;
  /** RTP packets sent so far. */
  readonly sent: number;
  close(): Promise<void>;
}

/** Connects to `signalingUrl` as a sendonly publisher of `channelId` and starts the replay. */
export async function startReplayPublisher(
  signalingUrl: string,
  channelId: string,
): Promise<ReplayPublisher> {
  const capture = loadCapture();
  const ws = new WebSocket(signalingUrl);
  const pc = new RTCPeerConnection({
    codecs: peerCodecs(),
    headerExtensions: peerHeaderExtensions(),
    bundlePolicy: 'max-bundle',
  });
  const tracks = {
    audio: new MediaStreamTrack({ kind: 'audio' }),
    video: new MediaStreamTrack({ kind: 'video' }),
  };
  let timer: NodeJS.Timeout | undefined;
  let sent = 0;
  const close = async (): Promise<void> => {
    clearTimeout(timer);
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'disconnect' }));
    ws.close();
    await pc.close();
  };
  try {
    const connectionId = await new Promise<string>((resolve, reject) => {
      const deadline = setTimeout(() => {
        reject(new Error(`the publisher did not connect within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      ws.on('error', reject);
      ws.on('close', (code, reason) => {
        reject(new Error(`signaling closed: ${code} ${reason.toString()}`));
      });
      ws.on('open', () => {
        ws.send(
          JSON.stringify({
            type: 'connect',
            role: 'sendonly',
            channel_id: channelId,
            audio: true,
            video: { codec_type: 'H264' },
            sora_client: 'nagare replay publisher',
          }),
        );
      });
      ws.on('message', (data: RawData) => {
        const message = JSON.parse(rawText(data)) as { type: string; sdp?: string; connection_id?: string };
        if (message.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
        if (message.type !== 'offer' || message.sdp === undefined) return;
        void answer(pc, message.sdp, tracks).then((sdp) => {
          ws.send(JSON.stringify({ type: 'answer', sdp }));
        }, reject);
        pc.connectionStateChange.subscribe((state) => {
          if (state !== 'connected') return;
          clearTimeout(deadline);
          resolve(message.connection_id ?? '');
        });
      });
    });
    const startedAt = performance.now();
    let loop = 0;
    let index = 0;
    // One timer at a time, for the next packet due.
    const step = (): void => {
      for (;;) {
        const next = capture.packets[index];
        if (next === undefined) {
          loop += 1;
          index = 0;
          continue;
        }
        const waitMs = startedAt + loop * capture.loopMs + next.t - performance.now();
        if (waitMs > 0) {
          timer = setTimeout(step, waitMs);
          return;
        }
        const rtp = next.rtp.clone();
        rtp.header.sequenceNumber = (rtp.header.sequenceNumber + loop * capture.seqSpan[next.kind]) % 65_536;
        const loopTicks = Math.round((capture.loopMs * clockRates[next.kind]) / 1000);
        rtp.header.timestamp = (rtp.header.timestamp + loop * loopTicks) % 2 ** 32;
        tracks[next.kind].writeRtp(rtp);
        sent += 1;
        index += 1;
      }
    };
    step();
    return {
      connectionId,
      get sent() {
        return sent;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Answers the server's offer, sending our tracks on its first audio and video m-lines (our upstream). */
async function answer(
  pc: RTCPeerConnection,
  offer: string,
  tracks: Record<Kind, MediaStreamTrack>,
): Promise<string> {
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  for (const kind of ['audio', 'video'] as const) {
    const transceiver: RTCRtpTransceiver | undefined = pc.getTransceivers().find((t) => t.kind === kind);
    if (transceiver === undefined) throw new Error(`the offer has no ${kind} m-line`);
    transceiver.setDirection('sendonly');
    await transceiver.sender.replaceTrack(tracks[kind]);
  }
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => {
      const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
        if (state !== 'complete') return;
        unSubscribe();
        resolve();
      });
    });
  }
  const sdp = pc.localDescription?.sdp;
  if (sdp === undefined) throw new Error('no local description');
  return sdp;
}
