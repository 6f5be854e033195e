/**
 * The whole server at a number of channels, for bench/density.ts: the CLI (src/main.ts) as a user starts it, one
 * channel per publisher, each publisher a werift peer in this process replaying the captured Chromium publisher
 * over WebRTC (test/helpers/replay-publisher.ts). So this counts what the pipeline-only figures leave out: ICE,
 * DTLS, SRTP, RTCP, the SFU and the ingest (jitter buffer, depacketizer, channel clock).
 *
 * Measured as the pipeline is: settle, then a window. The server's own CPU (its Node process) and its ffmpeg
 * children's come from /proc; the publishers' CPU is this process's, reported apart (a broadcaster's browser does
 * not run on the server, here it shares the machine). Real time comes from each channel's DescribeChannel media
 * figures: the parts its packager listed, and nothing dropped, skipped or restarted.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HlsVariant } from '../../src/channel/channel-spec.ts';
import { monotonicMs } from '../../src/lib/clock.ts';
import { startReplayPublisher, type ReplayPublisher } from '../../test/helpers/replay-publisher.ts';
import { callApi, spawnServer, testToken, type ServerProcess } from '../../test/helpers/server.ts';
import { cpuMsBetween, cpuMsByPid, cpuMsOf, machineStealMs, ownCpuMs } from '../bench-util.ts';
import { judgeWindow, type ChannelCounters, type WindowVerdict } from './window.ts';

export interface ServerRoundOptions {
  variant: HlsVariant;
  partSeconds: number;
  /** Between the publishers' starts, ms. */
  staggerMs: number;
  settleSeconds: number;
  windowSeconds: number;
  /** Parts a channel must list, as a share of the parts the window holds, to count as real time. */
  minPartsShare: number;
}

export interface ServerStep extends WindowVerdict {
  channels: number;
  coresUsed: number;
  coresPerChannel: number;
  /** The server's Node process: WebRTC, ingest, mixer, packaging, HTTP. */
  nodeCores: number;
  /** The server's ffmpeg children: direct encoders (decoders and encoders where a channel mixes). */
  ffmpegCores: number;
  /** The replaying publishers (this process), not part of the server's figures. */
  publisherCores: number;
  stealCores: number;
}

/** A round whose publishers did not all connect: nothing measured, and not in real time. */
function notConnected(count: number, missing: number): ServerStep {
  return {
    channels: count,
    coresUsed: Number.NaN,
    coresPerChannel: Number.NaN,
    nodeCores: Number.NaN,
    ffmpegCores: Number.NaN,
    publisherCores: Number.NaN,
    stealCores: Number.NaN,
    worstPartsShare: 0,
    troubles: missing,
    latePictures: 0,
    keptRealTime: false,
  };
}

interface DescribedMedia {
  /** Present when the composite was encoded directly; `endReason` once that ended. */
  direct?: { endReason?: string };
  mixer?: { videoFramesDropped: number; lateTicksSkipped: number; latePictures: number };
  encoder?: { picturesDropped: number; restarts: number };
  packagers?: { parts: number }[];
  publishers?: Record<string, { decoder?: { videoDropped: number; restarts: number } }>;
}

async function channelFigures(url: string, channelId: string): Promise<ChannelCounters> {
  const answer = await callApi(url, 'Nagare_20261124.DescribeChannel', { channel_id: channelId });
  const media = (answer.json as { media?: DescribedMedia }).media ?? {};
  const decoders = Object.values(media.publishers ?? {}).map((publisher) => publisher.decoder);
  return {
    parts: media.packagers?.[0]?.parts ?? 0,
    troubles:
      (media.direct?.endReason === undefined ? 0 : 1) +
      (media.mixer?.videoFramesDropped ?? 0) +
      (media.mixer?.lateTicksSkipped ?? 0) +
      (media.encoder?.picturesDropped ?? 0) +
      (media.encoder?.restarts ?? 0) +
      decoders.reduce((sum, decoder) => sum + (decoder?.videoDropped ?? 0) + (decoder?.restarts ?? 0), 0),
    latePictures: media.mixer?.latePictures ?? 0,
  };
}

/** The processes a process started (Linux: its main thread's children). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Starts the server with `count` publishing channels, measures one window, and stops everything. */
export async function measureServer(count: number, options: ServerRoundOptions): Promise<ServerStep> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nagare-density-server-'));
  let server: ServerProcess | undefined;
  const publishers: ReplayPublisher[] = [];
  try {
    // No encoding budget in the way: its default (100 Mpixel/s) admits 10 channels of 640x480@30, and this measures
    // how many the machine carries.
    server = await spawnServer([
      '--api-token',
      testToken,
      '--data-dir',
      dataDir,
      '--transcode-budget',
      '100000',
    ]);
    const { url } = server;
    const pid = server.child.pid ?? 0;
    const { video, audio } = options.variant;
    const channelIds: string[] = [];
    for (let index = 0; index < count; index++) {
      const created = await callApi(url, 'ImageFlux_20180905.CreateChannel', {
        hls: [{ video: { width: video.width, height: video.height, fps: video.fps, bps: video.bps }, audio }],
      });
      const channelId = (created.json as { channel_id: string }).channel_id;
      channelIds.push(channelId);
      try {
        publishers.push(await startReplayPublisher(`${url.replace('http', 'ws')}/signaling`, channelId));
      } catch (err) {
        // Too loaded to connect one more (the server, or this process replaying every publisher): that many
        // channels did not keep real time.
        console.error(`whole server: publisher ${index + 1} of ${count}: ${(err as Error).message}`);
        return notConnected(count, count - index);
      }
      await sleep(options.staggerMs);
    }
    await sleep(options.settleSeconds * 1000);
    const mark = async () => {
      const children = childPids(pid);
      return {
        atMs: monotonicMs(),
        stealMs: machineStealMs(),
        nodeMs: cpuMsOf(pid),
        children: cpuMsByPid(children),
        publisherMs: ownCpuMs(),
        figures: await Promise.all(channelIds.map((id) => channelFigures(url, id))),
      };
    };
    const start = await mark();
    await sleep(options.windowSeconds * 1000);
    const end = await mark();
    const wallMs = end.atMs - start.atMs;
    const ffmpegMs = cpuMsBetween(start.children, end.children);
    const nodeMs = end.nodeMs - start.nodeMs;
    const verdict = judgeWindow(
      start.figures,
      end.figures,
      wallMs,
      options.partSeconds,
      options.minPartsShare,
    );
    const round = (value: number): number => Number(value.toFixed(3));
    const coresUsed = (nodeMs + ffmpegMs) / wallMs;
    return {
      channels: count,
      coresUsed: round(coresUsed),
      coresPerChannel: round(coresUsed / count),
      nodeCores: round(nodeMs / wallMs),
      ffmpegCores: round(ffmpegMs / wallMs),
      publisherCores: round((end.publisherMs - start.publisherMs) / wallMs),
      ...verdict,
      stealCores: round((end.stealMs - start.stealMs) / wallMs),
    };
  } finally {
    await Promise.all(publishers.map((publisher) => publisher.close()));
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
