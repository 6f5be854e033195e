/** Reads the RTP capture fixtures written by tools/capture-rtp.ts. */
import { readFileSync } from 'node:fs';

export interface CapturedPacket {
  /** Arrival, ms from the first packet. */
  t: number;
  kind: 'audio' | 'video';
  type: 'rtp' | 'rtcp';
  data: Uint8Array;
}

export interface Capture {
  header: {
    format: string;
    source: string;
    tracks: { audio: { codec: string }; video: { codec: 'H264' | 'VP8' | 'VP9' } };
  };
  packets: CapturedPacket[];
}

export function readCapture(path: string): Capture {
  const [first = '', ...rest] = readFileSync(path, 'utf8').trim().split('\n');
  const header = JSON.parse(first) as Capture['header'];
  if (header.format !== 'nagare-rtp-capture/1') throw new Error(`${path}: unknown format ${header.format}`);
  const packets = rest.map((line) => {
    const entry = JSON.parse(line) as {
      t: number;
      kind: 'audio' | 'video';
      type: 'rtp' | 'rtcp';
      data: string;
    };
    return { ...entry, data: new Uint8Array(Buffer.from(entry.data, 'base64')) };
  });
  return { header, packets };
}
