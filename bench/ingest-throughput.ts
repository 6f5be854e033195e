/**
 * Ingest throughput on one core: RTP bytes → parse → jitter buffer → H.264 depacketizer, for a 2 Mbps 30 fps
 * H.264 stream (a keyframe every 2 s) delivered with 2 % loss and 5 % of packets reordered.
 *
 *   node bench/ingest-throughput.ts [seconds-of-media=600]
 *
 * Prints packets per second of wall time (target: at least 100 000, i.e. a thousand 1 Mbps publishers a core).
 */
import { serializeRtpPacket, parseRtpPacket } from '../src/rtp/rtp-packet.ts';
import { videoJitterOptions } from '../src/rtp/jitter-buffer.ts';
import { TrackIngest } from '../src/rtp/track-ingest.ts';
import { packetizeH264 } from '../test/helpers/rtp-packetizers.ts';

const mediaSeconds = Number(process.argv[2] ?? '600');
const fps = 30;
const bitrateBps = 2_000_000;
let state = 12345;
const random = (): number => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 2 ** 32;
};

function nal(type: number, size: number): Uint8Array {
  const unit = new Uint8Array(size);
  for (let i = 1; i < size; i++) unit[i] = (random() * 256) | 1; // never 00 00: no accidental start codes
  unit[0] = 0x60 | type;
  return unit;
}

// Build the stream once: 2 s GOPs, keyframes 5× an inter frame.
const packets: Uint8Array[] = [];
const interBytes = Math.round(bitrateBps / 8 / fps / (1 + 4 / 60));
let seq = 1000;
for (let frame = 0; frame < mediaSeconds * fps; frame++) {
  const key = frame % (2 * fps) === 0;
  const units = key ? [nal(7, 20), nal(8, 6), nal(5, interBytes * 5)] : [nal(1, interBytes)];
  const timestamp = (frame * 3000) >>> 0;
  for (const { payload, marker } of packetizeH264(units, 1200, true)) {
    packets.push(
      serializeRtpPacket({
        payloadType: 102,
        sequenceNumber: seq++ & 0xffff,
        timestamp,
        ssrc: 1,
        marker,
        payload,
      }),
    );
  }
}
// Deliver them as a bad network would.
const delivered: Uint8Array[] = [];
for (let i = 0; i < packets.length; i++) {
  if (random() < 0.02) continue;
  const packet = packets[i]!;
  if (random() < 0.05 && i + 1 < packets.length) {
    delivered.push(packets[i + 1]!, packet);
    i += 1;
  } else {
    delivered.push(packet);
  }
}

const ingest = new TrackIngest('H264', videoJitterOptions);
const packetIntervalMs = (mediaSeconds * 1000) / delivered.length;
let frames = 0;
const started = process.cpuUsage();
const wallStart = performance.now();
for (let i = 0; i < delivered.length; i++) {
  const now = i * packetIntervalMs;
  for (const event of ingest.push(parseRtpPacket(delivered[i]!), now))
    if (event.type === 'frame') frames += 1;
  if (i % 16 === 0) for (const event of ingest.poll(now)) if (event.type === 'frame') frames += 1;
}
const wallMs = performance.now() - wallStart;
const cpu = process.cpuUsage(started);
const stats = ingest.stats();
console.log(
  JSON.stringify(
    {
      benchmark: 'ingest-throughput',
      stream: `H.264 ${bitrateBps / 1e6} Mbps ${fps} fps, ${mediaSeconds} s, 2% loss, 5% reordered`,
      packets: delivered.length,
      framesOut: frames,
      lost: stats.jitter.lost,
      droppedFrames: stats.depacketizer.droppedFrames,
      wallMs: Math.round(wallMs),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      packetsPerSecond: Math.round(delivered.length / (wallMs / 1000)),
      packetsPerCpuSecond: Math.round(delivered.length / ((cpu.user + cpu.system) / 1e6)),
    },
    null,
    2,
  ),
);
