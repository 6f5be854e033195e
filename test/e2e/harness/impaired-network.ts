/**
 * A bad network between a browser and Nagare, on loopback: a signaling proxy that hands the browser offers whose
 * only ICE candidate is a UDP relay, and the relay, which loses and reorders SRTP/SRTCP packets (RFC 7983: first
 * byte 128–191) in both directions at the rates given, from a seeded generator. STUN and DTLS pass untouched, so
 * the connection comes up as on a good network and only media suffers. The browser talks to the proxy's URL with
 * the unmodified SDK. The proxy keeps the browser's own candidates from the server (its `candidate` messages are
 * not passed on, nor candidate lines of its answers), so the server can only reach the browser through the relay,
 * whose address it learns as a peer-reflexive candidate.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

export interface Impairment {
  /** Share of SRTP/SRTCP packets dropped, each direction. */
  lossRate: number;
  /** Share of SRTP/SRTCP packets held back `reorderDelayMs`, so the ones after them overtake them. */
  reorderRate: number;
  reorderDelayMs: number;
  seed: number;
}

export interface ImpairmentCounts {
  /** SRTP/SRTCP packets seen, dropped and held back, browser → server. */
  upstream: { packets: number; dropped: number; reordered: number };
  downstream: { packets: number; dropped: number; reordered: number };
  /** Server candidates the proxy rewrote to the relay, and dropped (other addresses, TCP). */
  candidatesRewritten: number;
  candidatesRemoved: number;
  /** Browser candidates kept from the server. */
  browserCandidatesWithheld: number;
}

export interface ImpairedNetwork {
  /** ws://127.0.0.1:<proxy>/signaling: give this to the SDK. */
  readonly signalingUrl: string;
  counts(): ImpairmentCounts;
  close(): Promise<void>;
}

/** mulberry32: small, seeded, good enough to pick packets. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isSrtp = (packet: Buffer): boolean => packet.length > 0 && packet[0]! >= 128 && packet[0]! <= 191;

/** One server UDP port seen through the relay: `front` faces the browser, `back` the server. */
interface RelayedPort {
  front: Socket;
  back: Socket;
  port: number;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(new Uint8Array(data)).toString('utf8');
}

/** A signaling message's type and SDP; nothing for text that is not a JSON object (passed on as it is). */
function parseMessage(text: string): { type?: unknown; sdp?: unknown } {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

async function bindUdp(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/**
 * Starts the proxy in front of `upstreamSignalingUrl` (Nagare's /signaling) and the relay it points browsers at.
 */
export async function startImpairedNetwork(
  upstreamSignalingUrl: string,
  impairment: Impairment,
): Promise<ImpairedNetwork> {
  const random = seededRandom(impairment.seed);
  const counts: ImpairmentCounts = {
    upstream: { packets: 0, dropped: 0, reordered: 0 },
    downstream: { packets: 0, dropped: 0, reordered: 0 },
    candidatesRewritten: 0,
    candidatesRemoved: 0,
    browserCandidatesWithheld: 0,
  };
  const relays = new Map<number, Promise<RelayedPort>>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  /** Sends now, later or never, as the impairment decides for SRTP/SRTCP. */
  const forward = (
    packet: Buffer,
    direction: 'upstream' | 'downstream',
    send: (packet: Buffer) => void,
  ): void => {
    if (!isSrtp(packet)) {
      send(packet);
      return;
    }
    const tally = counts[direction];
    tally.packets += 1;
    if (random() < impairment.lossRate) {
      tally.dropped += 1;
      return;
    }
    if (random() < impairment.reorderRate) {
      tally.reordered += 1;
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!closed) send(packet);
      }, impairment.reorderDelayMs);
      timers.add(timer);
      return;
    }
    send(packet);
  };

  const relayFor = (serverPort: number): Promise<RelayedPort> => {
    let relay = relays.get(serverPort);
    if (relay === undefined) {
      relay = (async () => {
        const front = await bindUdp();
        const back = await bindUdp();
        let browser: AddressInfo | undefined;
        front.on('message', (packet, from) => {
          browser = from;
          forward(packet, 'upstream', (p) => {
            back.send(p, serverPort, '127.0.0.1');
          });
        });
        back.on('message', (packet) => {
          const to = browser;
          if (to !== undefined)
            forward(packet, 'downstream', (p) => {
              front.send(p, to.port, to.address);
            });
        });
        // A send to a port that has just closed is reported here; the relay, like a network, carries on.
        front.on('error', () => undefined);
        back.on('error', () => undefined);
        return { front, back, port: front.address().port };
      })();
      relays.set(serverPort, relay);
    }
    return relay;
  };

  /** The offer with every candidate line replaced: UDP host candidates on 127.0.0.1 go through the relay. */
  const rewriteSdp = async (sdp: string): Promise<string> => {
    const lines = sdp.split('\r\n');
    const out: string[] = [];
    for (const line of lines) {
      if (!line.startsWith('a=candidate:')) {
        out.push(line);
        continue;
      }
      // a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
      const fields = line.split(' ');
      const [transport, , address, port] = fields.slice(2, 6);
      if (transport?.toLowerCase() !== 'udp' || address !== '127.0.0.1' || port === undefined) {
        counts.candidatesRemoved += 1;
        continue;
      }
      const relay = await relayFor(Number(port));
      fields[5] = String(relay.port);
      counts.candidatesRewritten += 1;
      out.push(fields.join(' '));
    }
    return out.join('\r\n');
  };

  const rewriteMessage = async (data: RawData): Promise<string> => {
    const text = rawText(data);
    const message = parseMessage(text);
    if ((message.type === 'offer' || message.type === 're-offer') && typeof message.sdp === 'string') {
      return JSON.stringify({ ...message, sdp: await rewriteSdp(message.sdp) });
    }
    return text;
  };

  /** The browser's message without its candidates; undefined when it is only a candidate. */
  const withholdCandidates = (data: RawData): string | undefined => {
    const text = rawText(data);
    const message = parseMessage(text);
    if (message.type === 'candidate') {
      counts.browserCandidatesWithheld += 1;
      return undefined;
    }
    if (typeof message.sdp !== 'string') return text;
    const lines = message.sdp.split('\r\n');
    const kept = lines.filter((line) => !line.startsWith('a=candidate:'));
    counts.browserCandidatesWithheld += lines.length - kept.length;
    return JSON.stringify({ ...message, sdp: kept.join('\r\n') });
  };

  const proxy = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => proxy.once('listening', resolve));
  proxy.on('connection', (client, request) => {
    const upstream = new WebSocket(upstreamSignalingUrl, {
      headers: request.headers.origin === undefined ? {} : { origin: request.headers.origin },
    });
    const pending: string[] = [];
    // Server → browser, in order even though rewriting an offer waits for the relay's sockets.
    let toClient = Promise.resolve();
    upstream.on('open', () => {
      for (const text of pending.splice(0)) upstream.send(text);
    });
    client.on('message', (data) => {
      const text = withholdCandidates(data);
      if (text === undefined) return;
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else pending.push(text);
    });
    upstream.on('message', (data) => {
      toClient = toClient.then(async () => {
        const text = await rewriteMessage(data);
        if (client.readyState === WebSocket.OPEN) client.send(text);
      });
    });
    const closeWith = (socket: WebSocket, code: number, reason: Buffer) => {
      // 1005/1006 are reported, never sent.
      if (code === 1005 || code === 1006) socket.terminate();
      else socket.close(code, reason);
    };
    upstream.on('close', (code, reason) => {
      void toClient.then(() => {
        closeWith(client, code, reason);
      });
    });
    client.on('close', (code, reason) => {
      if (upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
      else closeWith(upstream, code, reason);
    });
    upstream.on('error', () => {
      client.terminate();
    });
    client.on('error', () => {
      upstream.terminate();
    });
  });

  const { port } = proxy.address() as AddressInfo;
  return {
    signalingUrl: `ws://127.0.0.1:${port}/signaling`,
    counts: () => structuredClone(counts),
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      for (const client of proxy.clients) client.terminate();
      await new Promise<void>((resolve) => {
        proxy.close(() => {
          resolve();
        });
      });
      for (const relay of relays.values()) {
        const { front, back } = await relay;
        front.close();
        back.close();
      }
    },
  };
}
