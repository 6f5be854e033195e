/**
 * The depacketizers against an RTP packetizer and decoders we did not write: ffmpeg encodes a test pattern,
 * its RTP muxer sends it over UDP (H.264 as single NAL units and FU-A, VP8 with 15-bit picture ids, VP9, Opus),
 * and what our depacketizers make of the packets must be what ffmpeg itself had: the same VP8, VP9 and Opus
 * packets byte for byte, and for H.264 an Annex-B stream that ffmpeg decodes to the same pictures.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createDepacketizer } from '../../src/rtp/depacketizer.ts';
import type { Codec, EncodedFrame } from '../../src/rtp/encoded-frame.ts';
import { parseRtpPacket, type RtpPacket } from '../../src/rtp/rtp-packet.ts';

const run = promisify(execFile);
const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
const pattern = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-frames:v', '60'];
const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');

async function ffmpeg(args: readonly string[]): Promise<string> {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-v', 'error', ...args], { maxBuffer: 64 << 20 });
  return stdout;
}

/** `-f framemd5` lines: stream, dts, pts, duration, size, hash[, side data]; the packet hashes in order. */
async function frameHashes(args: readonly string[]): Promise<string[]> {
  const text = await ffmpeg([...args, '-f', 'framemd5', '-']);
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(',')[5]?.trim() ?? '');
}

/** Sends `input` (stream copy) through ffmpeg's RTP muxer to a UDP socket of ours; the packets in order. */
async function captureRtp(input: string, extraArgs: readonly string[]): Promise<RtpPacket[]> {
  const socket = createSocket('udp4');
  const datagrams: Buffer[] = [];
  socket.on('message', (message) => datagrams.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  try {
    socket.setRecvBufferSize(8 << 20);
    const { port } = socket.address();
    await ffmpeg([
      '-re',
      '-i',
      input,
      '-c',
      'copy',
      ...extraArgs,
      '-f',
      'rtp',
      `rtp://127.0.0.1:${port}?pkt_size=400`,
    ]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    socket.close();
  }
  const packets = datagrams.map((datagram) => parseRtpPacket(new Uint8Array(datagram)));
  packets.forEach((packet, index) => {
    const previous = packets[index - 1];
    if (previous !== undefined) assert.equal(packet.sequenceNumber, (previous.sequenceNumber + 1) & 0xffff);
  });
  return packets;
}

/** Feeds the packets with their RTP times unwrapped (a short capture cannot wrap twice). */
function depacketize(codec: Codec, packets: readonly RtpPacket[]): EncodedFrame[] {
  const depacketizer = createDepacketizer(codec);
  const first = packets[0]?.timestamp ?? 0;
  const frames = packets.flatMap((packet) =>
    depacketizer.push(packet.payload, (packet.timestamp - first) >>> 0, packet.marker),
  );
  assert.deepEqual(
    { malformed: depacketizer.stats().malformedPackets, dropped: depacketizer.stats().droppedFrames },
    { malformed: 0, dropped: 0 },
  );
  return frames.flatMap((output) => (output.type === 'frame' ? [output.frame] : []));
}

describe('depacketizers against ffmpeg', { skip: !hasFfmpeg && 'ffmpeg is not installed' }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nagare-depacketizer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('H.264: the Annex-B access units decode to the same pictures as the encoded file', async () => {
    const encoded = join(dir, 'in.h264');
    await ffmpeg([...pattern, '-c:v', 'libx264', '-g', '30', '-bf', '0', '-threads', '1', encoded]);
    // ffmpeg's RTP muxer puts SPS/PPS only in the SDP; dump_extra sends them in band, as browsers do.
    const packets = await captureRtp(encoded, ['-bsf:v', 'dump_extra=freq=keyframe']);
    const frames = depacketize('H264', packets);
    assert.equal(frames.length, 60);
    assert.deepEqual(
      frames.flatMap((frame, index) => (frame.keyframe ? [index] : [])),
      [0, 30],
    );
    const ours = join(dir, 'ours.h264');
    await writeFile(ours, Buffer.concat(frames.map((frame) => frame.data)));
    assert.deepEqual(await frameHashes(['-f', 'h264', '-i', ours]), await frameHashes(['-i', encoded]));
  });

  for (const [codec, encoder] of [
    ['VP8', 'libvpx'],
    ['VP9', 'libvpx-vp9'],
  ] as const) {
    test(`${codec}: every frame comes out byte for byte as ffmpeg encoded it`, async () => {
      const encoded = join(dir, `${codec}.ivf`);
      await ffmpeg([...pattern, '-c:v', encoder, '-g', '30', '-b:v', '400k', '-threads', '1', encoded]);
      const frames = depacketize(codec, await captureRtp(encoded, ['-strict', 'experimental']));
      assert.deepEqual(
        frames.map((frame) => md5(frame.data)),
        await frameHashes(['-i', encoded, '-c', 'copy']),
      );
      assert.equal(frames[0]?.keyframe, true);
    });
  }

  test('Opus: every packet comes out byte for byte as a 48 kHz frame', async () => {
    const encoded = join(dir, 'in.ogg');
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'libopus', encoded]);
    const frames = depacketize('opus', await captureRtp(encoded, []));
    assert.deepEqual(
      frames.map((frame) => md5(frame.data)),
      await frameHashes(['-i', encoded, '-c', 'copy']),
    );
    assert.ok(frames.every((frame) => frame.timescale === 48000 && frame.keyframe));
  });
});
