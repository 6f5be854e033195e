/**
 * A channel as the admin page reads it from DescribeChannel and ListChannelConnections, the traffic figures when
 * the server reports them, and the short form of an id the page shows.
 */

export interface Variant {
  video: { width: number; height: number; fps: number; bps: number; codec?: string };
  audio: { bps: number };
  durationSeconds?: number;
}
export interface Traffic {
  ingest_bytes: number;
  hls_bytes: number;
  viewers: number;
  live_edge_ms: number | null;
}
export interface Channel {
  channel_id: string;
  type: string;
  state: 'idle' | 'live' | 'deleted';
  created_at: string;
  sora_url: string;
  playlist_url?: string;
  hls: Variant[];
  connections: number;
  traffic?: unknown;
}
export interface Connection {
  connection_id: string;
  client_id?: string;
  role: string;
}

/** The traffic figures, if the server reports them in this shape (older servers do not). */
export function readTraffic(value: unknown): Traffic | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const traffic = value as Partial<Record<keyof Traffic, unknown>>;
  if (typeof traffic.ingest_bytes !== 'number' || typeof traffic.hls_bytes !== 'number') return undefined;
  return {
    ingest_bytes: traffic.ingest_bytes,
    hls_bytes: traffic.hls_bytes,
    viewers: typeof traffic.viewers === 'number' ? traffic.viewers : 0,
    live_edge_ms: typeof traffic.live_edge_ms === 'number' ? traffic.live_edge_ms : null,
  };
}

export const shortId = (id: string): string => (id.length > 12 ? `${id.slice(0, 12)}…` : id);
