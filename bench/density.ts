/**
 * Density: how many channels of one 640x480@30 1 Mbps variant this machine encodes in real time, and what a channel
 * costs against a bare ffmpeg doing the same work.
 *
 * Phase A (Nagare): one channel is added every `stepSeconds`, each built as the server builds a channel with one
 * publisher: the captured Chromium publisher (testdata/rtp/h264-opus.jsonl, H.264 640x480 + Opus, looped) replayed
 * in real time into the channel's composite HlsOutput, encoded directly (HlsOutput.encodeDirect: one ffmpeg from
 * the frames to the variant; should that end, a PublisherDecoder and the mixer take over) with the server's
 * defaults. ChannelPipeline itself is not used: it takes its publishers from the SFU's ingest, which a replayed
 * capture does not pass through; what it builds for one publisher is this. After each addition, once settled,
 * every channel is checked over a window: it keeps real time when its packager listed ≥ 95 % of the parts the
 * window holds (one part of slack at the window's ends) and nothing was dropped, skipped or restarted, and its
 * direct encoding did not end. The first step that fails ends phase A. Each step records the cores used by this
 * process and every ffmpeg (/proc).
 *
 * Phase B (Nagare against bare ffmpeg, after phase A, same input), at 1 channel and under load, at three quarters
 * of the most that kept real time (and a tenth fewer when no round there kept real time on both sides): rounds of
 * the same number of channels built afresh in Nagare, then as many bare ffmpegs (one per channel, reading the same
 * frames as Matroska at their own pace, -re, with the direct encoder's command line (bench-util.ts's bareArgs),
 * output thrown away), in turn, the order swapped each round. The same rounds also
 * measure the whole server (bench/density/server-round.ts): the CLI with one channel per publisher, each a
 * werift peer replaying the capture over WebRTC, so ICE, DTLS, SRTP, the SFU and the ingest are counted too; its
 * publishers run in this process and are reported apart. The speed of these shared machines drifts by tens of
 * percent over minutes (measured: the same bare ffmpeg at 0.139, 0.164 and 0.195 cores in runs hours apart), so
 * each round's ratio compares two windows a few seconds apart, and the figure is the median of the rounds where
 * both kept real time (a side that fell behind did less of the work). Every window also records the CPU the host
 * took away (steal, in /proc/stat), which on these machines rises with the load put on them.
 *
 * Prints tables and writes bench/results/density.json. Target: Nagare / bare CPU per channel ≤ 1.15.
 *
 *   node bench/density.ts [stepSeconds=20] [maxChannels=26]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { defaultLayout, type HlsVariant } from '../src/channel/channel-spec.ts';
import { monotonicMs } from '../src/lib/clock.ts';
import type { EncoderStats } from '../src/media/channel-encoder.ts';
import { HlsOutput, defaultMediaOptions, partTargetFor } from '../src/media/hls-output.ts';
import type { MixerStats } from '../src/media/mixer.ts';
import type { DirectEncoderStats } from '../src/media/direct-encoder.ts';
import { PublisherDecoder } from '../src/media/publisher-decoder.ts';
import type { EncodedFrame } from '../src/rtp/encoded-frame.ts';
import { ReplaySource } from '../test/helpers/replay-source.ts';
import {
  bareArgs,
  cpuMsBetween,
  cpuMsByPid,
  cpuMsOf,
  loopedCapture,
  machineStealMs,
  ownCpuMs,
  writeMatroskaInput,
} from './bench-util.ts';
import { measureServer, type ServerStep } from './density/server-round.ts';
import { judgeWindow, type ChannelCounters, type WindowVerdict } from './density/window.ts';
import { writeResults } from './results.ts';

/** From a channel's (or the bare ffmpegs') start to its measuring window: processes up, first parts listed. */
const settleSeconds = 5;
/** Share of the window's parts a channel must list to keep real time. */
const minPartsShare = 0.95;
const targetRatio = 1.15;
/** Input of phase B beyond its windows, so no bare ffmpeg reaches the end of its file while measured. */
const inputMarginSeconds = 10;
/** The channel count under load, as a share of the most kept in real time in phase A. */
const underLoadShare = 0.75;
/** Rounds of phase B at each channel count. */
const pairedRounds = 3;
/** Between the starts of channels built together in phase B, ms: a burst of ffmpeg start-ups settles sooner. */
const staggerMs = 300;
/**
 * Settling added in phase B, where all the channels start at once: with the usual settling, two of three rounds at
 * 8 channels still had decoders dropping pictures to catch up after the start-up burst.
 */
const freshSettleSeconds = 5;

const stepSeconds = Number(process.argv[2] ?? '20');
const maxChannels = Number(process.argv[3] ?? '26');
if (!(stepSeconds >= 2 * settleSeconds) || !Number.isInteger(maxChannels) || maxChannels < 1) {
  throw new Error(`usage: node bench/density.ts [stepSeconds ≥ ${2 * settleSeconds}] [maxChannels ≥ 1]`);
}
const windowSeconds = stepSeconds - settleSeconds;

const variant: HlsVariant = {
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_high' },
  audio: { bps: 96_000 },
  durationSeconds: 2,
};
const media = defaultMediaOptions;
const partSeconds = partTargetFor(media.partSeconds, variant.video.fps);
const coreCount = cpus().length;
const log = pino({ level: 'warn' });
const serverRoundOptions = {
  variant,
  partSeconds,
  staggerMs,
  settleSeconds: freshSettleSeconds + settleSeconds,
  windowSeconds,
  minPartsShare,
};

const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

/**
 * One channel with one publisher, as the server builds it (ChannelPipeline with a one-publisher channel): encoded
 * directly while that lasts; should the direct run end (counted as trouble), decoded and mixed from then on.
 */
class BenchChannel {
  readonly #source: ReplaySource;
  readonly #output: HlsOutput;
  #decoder: PublisherDecoder | undefined;
  readonly #log: Logger;
  readonly #epochMs = monotonicMs();

  constructor(index: number, frames: EncodedFrame[]) {
    this.#log = log.child({ channel: index });
    this.#source = new ReplaySource(frames);
    this.#output = new HlsOutput({
      channelId: `density-${index}`,
      playlistId: `density-${index}`,
      variants: [variant],
      composition: { kind: 'layout', layout: defaultLayout },
      epochMs: this.#epochMs,
      media,
      log: this.#log.child({ playlist: 'composite' }),
    });
  }

  start(): void {
    const direct = this.#output.encodeDirect(this.#source, {
      ended: () => {
        this.#decode();
      },
    });
    if (!direct) this.#decode();
    this.#output.start();
    this.#source.play(this.#epochMs);
  }

  #decode(): void {
    this.#decoder = new PublisherDecoder({
      feed: this.#source,
      ffmpegPath: media.ffmpegPath,
      canvas: this.#output.canvas,
      sink: this.#output.addSource({ connectionId: 'publisher' }),
      log: this.#log.child({ stage: 'decoder' }),
    });
    this.#decoder.start();
  }

  get decoderPid(): number | undefined {
    return this.#decoder?.pid;
  }

  get encoderPid(): number | undefined {
    return this.#output.encoderPid;
  }

  liveEdgeMs(): number | undefined {
    return this.#output.liveEdgeMs();
  }

  counters(): ChannelCounters {
    const stats = this.#output.stats() as {
      mixer: MixerStats;
      encoder: EncoderStats;
      direct: DirectEncoderStats | undefined;
    };
    const decoder = this.#decoder?.stats();
    const { mixer, encoder, direct } = stats;
    return {
      parts: this.#output.packagers[0]?.stats().parts ?? 0,
      troubles:
        (direct?.endReason === undefined ? 0 : 1) +
        (decoder?.videoDropped ?? 0) +
        (decoder?.restarts ?? 0) +
        mixer.videoFramesDropped +
        mixer.lateTicksSkipped +
        encoder.picturesDropped +
        encoder.restarts,
      latePictures: mixer.latePictures,
    };
  }

  async close(): Promise<void> {
    this.#source.stop();
    await this.#decoder?.close();
    await this.#output.close();
  }
}

interface NagareStep extends WindowVerdict {
  channels: number;
  coresUsed: number;
  coresPerChannel: number;
  nodeCores: number;
  decoderCores: number;
  encoderCores: number;
  maxLiveEdgeMs: number | undefined;
  /** Cores' worth of CPU the host took away during the window (steal): the machine was slower by that much. */
  stealCores: number;
}

function nagareMark(channels: readonly BenchChannel[]) {
  return {
    atMs: monotonicMs(),
    stealMs: machineStealMs(),
    nodeMs: ownCpuMs(),
    decoderMs: cpuMsByPid(channels.map((channel) => channel.decoderPid)),
    encoderMs: cpuMsByPid(channels.map((channel) => channel.encoderPid)),
    counters: channels.map((channel) => channel.counters()),
  };
}

/** Lets the newest channel settle, then measures every channel over the window. */
async function measureNagare(channels: readonly BenchChannel[]): Promise<NagareStep> {
  await sleep(settleSeconds * 1000);
  const start = nagareMark(channels);
  await sleep(windowSeconds * 1000);
  const end = nagareMark(channels);
  const wallMs = end.atMs - start.atMs;
  const verdict = judgeWindow(start.counters, end.counters, wallMs, partSeconds, minPartsShare);
  const edges = channels.flatMap((channel) => channel.liveEdgeMs() ?? []);
  const node = end.nodeMs - start.nodeMs;
  const decoding = cpuMsBetween(start.decoderMs, end.decoderMs);
  const encoding = cpuMsBetween(start.encoderMs, end.encoderMs);
  const coresUsed = (node + decoding + encoding) / wallMs;
  return {
    channels: channels.length,
    coresUsed: round(coresUsed),
    coresPerChannel: round(coresUsed / channels.length),
    nodeCores: round(node / wallMs),
    decoderCores: round(decoding / wallMs),
    encoderCores: round(encoding / wallMs),
    ...verdict,
    maxLiveEdgeMs: edges.length === 0 ? undefined : Math.max(...edges),
    stealCores: round((end.stealMs - start.stealMs) / wallMs),
  };
}

/** A bare ffmpeg and how much media it has written (its -progress reports). */
interface BareProcess {
  child: ChildProcess;
  outTimeUs: number;
  stderr: string;
}

function startBare(args: readonly string[], sinkFd: number): BareProcess {
  const child = spawn(media.ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe', sinkFd] });
  const bare: BareProcess = { child, outTimeUs: 0, stderr: '' };
  child.stderr?.on('data', (chunk: Buffer) => {
    bare.stderr = (bare.stderr + chunk.toString()).slice(-2000);
  });
  if (child.stdout !== null) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [key, value] = line.split('=');
      if (key === 'out_time_us' && Number.isFinite(Number(value))) bare.outTimeUs = Number(value);
    });
  }
  return bare;
}

async function stopBare(bare: BareProcess): Promise<void> {
  if (bare.child.exitCode !== null || bare.child.signalCode !== null) return;
  const exited = new Promise((resolve) => bare.child.once('exit', resolve));
  bare.child.kill('SIGKILL');
  await exited;
}

interface BareStep {
  channels: number;
  coresUsed: number;
  coresPerChannel: number;
  /** The slowest process: media written / wall time over the window. */
  slowestSpeed: number;
  stealCores: number;
}

async function measureBare(count: number, input: string, running: Set<BareProcess>): Promise<BareStep> {
  const sinkFd = openSync('/dev/null', 'w');
  const processes = Array.from({ length: count }, () => startBare(bareArgs(input, variant, media), sinkFd));
  for (const bare of processes) running.add(bare);
  try {
    await sleep(settleSeconds * 1000);
    const mark = () => ({
      atMs: monotonicMs(),
      stealMs: machineStealMs(),
      cpuMs: processes.map((bare) => cpuMsOf(bare.child.pid)),
      outTimeUs: processes.map((bare) => bare.outTimeUs),
    });
    const start = mark();
    await sleep(windowSeconds * 1000);
    const end = mark();
    const died = processes.find((bare) => bare.child.exitCode !== null || bare.child.signalCode !== null);
    if (died !== undefined) throw new Error(`bare ffmpeg ended while measured: ${died.stderr}`);
    const wallMs = end.atMs - start.atMs;
    const cpuMs = end.cpuMs.reduce((sum, ms, index) => sum + ms - (start.cpuMs[index] ?? 0), 0);
    const speeds = end.outTimeUs.map((us, index) => (us - (start.outTimeUs[index] ?? 0)) / 1000 / wallMs);
    return {
      channels: count,
      coresUsed: round(cpuMs / wallMs),
      coresPerChannel: round(cpuMs / wallMs / count),
      slowestSpeed: round(Math.min(...speeds)),
      stealCores: round((end.stealMs - start.stealMs) / wallMs),
    };
  } finally {
    await Promise.all(processes.map((bare) => stopBare(bare)));
    for (const bare of processes) running.delete(bare);
    closeSync(sinkFd);
  }
}

/** A column of a printed table: its title and how a row shows in it. */
type Column<Row> = readonly [title: string, cell: (row: Row) => string];

function printTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): void {
  const cells = [columns.map(([title]) => title), ...rows.map((row) => columns.map(([, cell]) => cell(row)))];
  const widths = columns.map((_, column) => Math.max(...cells.map((line) => line[column]?.length ?? 0)));
  for (const line of cells)
    console.log(line.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  '));
}

const nagareColumns: Column<NagareStep>[] = [
  ['channels', (s) => String(s.channels)],
  ['cores', (s) => s.coresUsed.toFixed(3)],
  ['cores/ch', (s) => s.coresPerChannel.toFixed(3)],
  ['node', (s) => s.nodeCores.toFixed(3)],
  ['decoders', (s) => s.decoderCores.toFixed(3)],
  ['encoders', (s) => s.encoderCores.toFixed(3)],
  ['parts', (s) => `${(s.worstPartsShare * 100).toFixed(0)} %`],
  ['troubles', (s) => String(s.troubles)],
  ['late pics', (s) => String(s.latePictures)],
  ['edge ms', (s) => String(s.maxLiveEdgeMs ?? '-')],
  ['steal', (s) => s.stealCores.toFixed(3)],
  ['real time', (s) => (s.keptRealTime ? 'yes' : 'NO')],
];

const roundColumns: Column<PairedRound>[] = [
  ['channels', (r) => String(r.channels)],
  ['order', (r) => r.order.join(',')],
  ['Nagare cores/ch', (r) => r.nagare.coresPerChannel.toFixed(3)],
  ['node', (r) => r.nagare.nodeCores.toFixed(3)],
  ['decoders', (r) => r.nagare.decoderCores.toFixed(3)],
  ['encoders', (r) => r.nagare.encoderCores.toFixed(3)],
  ['troubles', (r) => String(r.nagare.troubles)],
  ['real time', (r) => (r.nagare.keptRealTime ? 'yes' : 'NO')],
  ['bare cores/ch', (r) => r.bare.coresPerChannel.toFixed(3)],
  ['bare speed', (r) => `${r.bare.slowestSpeed}x`],
  ['steal', (r) => `${r.nagare.stealCores.toFixed(3)} / ${r.bare.stealCores.toFixed(3)}`],
  ['ratio', (r) => r.ratio.toFixed(2)],
  ['counted', (r) => (r.counted ? 'yes' : 'no')],
];

const serverColumns: Column<PairedRound>[] = [
  ['channels', (r) => String(r.channels)],
  ['server cores/ch', (r) => r.server.coresPerChannel.toFixed(3)],
  ['node', (r) => r.server.nodeCores.toFixed(3)],
  ['ffmpegs', (r) => r.server.ffmpegCores.toFixed(3)],
  ['publishers', (r) => r.server.publisherCores.toFixed(3)],
  ['parts', (r) => `${(r.server.worstPartsShare * 100).toFixed(0)} %`],
  ['troubles', (r) => String(r.server.troubles)],
  ['real time', (r) => (r.server.keptRealTime ? 'yes' : 'NO')],
  ['bare cores/ch', (r) => r.bare.coresPerChannel.toFixed(3)],
  ['steal', (r) => r.server.stealCores.toFixed(3)],
  ['ratio', (r) => r.serverRatio.toFixed(2)],
  ['counted', (r) => (r.serverCounted ? 'yes' : 'no')],
];

const channels: BenchChannel[] = [];
const bareRunning = new Set<BareProcess>();
const dir = await mkdtemp(join(tmpdir(), 'nagare-density-'));

async function cleanUp(): Promise<void> {
  await Promise.all([...bareRunning].map((bare) => stopBare(bare)));
  await Promise.all(channels.splice(0).map((channel) => channel.close()));
  await rm(dir, { recursive: true, force: true });
}

process.once('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130));
});

async function phaseA(): Promise<NagareStep[]> {
  // Long enough for the first channel to play through every step.
  const frames = loopedCapture(maxChannels * stepSeconds + settleSeconds);
  const steps: NagareStep[] = [];
  while (channels.length < maxChannels) {
    const channel = new BenchChannel(channels.length, frames);
    channels.push(channel);
    channel.start();
    const step = await measureNagare(channels);
    steps.push(step);
    console.error(
      `${step.channels} channel(s): ${step.coresPerChannel} cores each, parts ${step.worstPartsShare}, troubles ${step.troubles}`,
    );
    if (!step.keptRealTime) break;
  }
  await Promise.all(channels.splice(0).map((channel) => channel.close()));
  return steps;
}

/** Nagare at `count` channels built at once (staggered), measured as in phase A, then closed. */
async function measureNagareFresh(count: number, frames: EncodedFrame[]): Promise<NagareStep> {
  for (let index = 0; index < count; index++) {
    const channel = new BenchChannel(index, frames);
    channels.push(channel);
    channel.start();
    await sleep(staggerMs);
  }
  try {
    await sleep(freshSettleSeconds * 1000);
    return await measureNagare(channels);
  } finally {
    await Promise.all(channels.splice(0).map((channel) => channel.close()));
  }
}

type Side = 'nagare' | 'server' | 'bare';

interface PairedRound {
  channels: number;
  /** The order the three were measured in. */
  order: Side[];
  nagare: NagareStep;
  server: ServerStep;
  bare: BareStep;
  ratio: number;
  /** The whole server's cores per channel / the bare ffmpeg's. */
  serverRatio: number;
  /**
   * Both did the whole work: Nagare kept real time and every bare ffmpeg kept its input's pace. A side that fell
   * behind did less work in the window, so its CPU says nothing about the work's cost.
   */
  counted: boolean;
  /** The same for the whole server and the bare ffmpegs. */
  serverCounted: boolean;
}

const sides: readonly Side[] = ['nagare', 'server', 'bare'];

/** The slowest bare ffmpeg's speed that still counts as real time (its -progress reports are coarse). */
const bareRealTimeSpeed = 0.98;

async function phaseB(counts: readonly number[]): Promise<PairedRound[]> {
  const input = join(dir, 'input.mkv');
  const frames = loopedCapture(stepSeconds + inputMarginSeconds);
  await writeMatroskaInput(input, frames);
  const rounds: PairedRound[] = [];
  for (const count of counts) {
    for (let index = 0; index < pairedRounds; index++) {
      // Each round starts with a different side, so none is always measured first or last.
      const order = [...sides.slice(index % sides.length), ...sides.slice(0, index % sides.length)];
      let nagare: NagareStep | undefined;
      let server: ServerStep | undefined;
      let bare: BareStep | undefined;
      for (const which of order) {
        if (which === 'nagare') nagare = await measureNagareFresh(count, frames);
        else if (which === 'server') server = await measureServer(count, serverRoundOptions);
        else bare = await measureBare(count, input, bareRunning);
      }
      if (nagare === undefined || server === undefined || bare === undefined) {
        throw new Error('a round without all three measurements');
      }
      const bareKept = bare.slowestSpeed >= bareRealTimeSpeed;
      const ratio = round(nagare.coresPerChannel / bare.coresPerChannel, 2);
      const serverRatio = round(server.coresPerChannel / bare.coresPerChannel, 2);
      const counted = nagare.keptRealTime && bareKept;
      const serverCounted = server.keptRealTime && bareKept;
      rounds.push({
        channels: count,
        order,
        nagare,
        server,
        bare,
        ratio,
        serverRatio,
        counted,
        serverCounted,
      });
      console.error(
        `${count} channel(s), round ${index + 1}: pipeline ${nagare.coresPerChannel}, server ${server.coresPerChannel}, bare ${bare.coresPerChannel}: ratios ${ratio}${counted ? '' : ' (not counted)'} and ${serverRatio}${serverCounted ? '' : ' (not counted)'}`,
      );
    }
  }
  return rounds;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

/** The figures of both phases: the ratio at each count is its median counted round's (none: no ratio). */
function summarize(nagare: NagareStep[], rounds: PairedRound[], counts: readonly number[]) {
  const maxRealTime = nagare.filter((step) => step.keptRealTime).at(-1);
  const ratios = counts.flatMap((count) => {
    const mine = rounds.filter((r) => r.channels === count && r.counted);
    if (mine.length === 0) return [];
    return [
      {
        channels: count,
        nagare: round(median(mine.map((r) => r.nagare.coresPerChannel))),
        bare: round(median(mine.map((r) => r.bare.coresPerChannel))),
        ratio: round(median(mine.map((r) => r.ratio)), 2),
        roundRatios: mine.map((r) => r.ratio),
      },
    ];
  });
  const serverRatios = counts.flatMap((count) => {
    const mine = rounds.filter((r) => r.channels === count && r.serverCounted);
    if (mine.length === 0) return [];
    return [
      {
        channels: count,
        server: round(median(mine.map((r) => r.server.coresPerChannel))),
        serverNode: round(median(mine.map((r) => r.server.nodeCores / count))),
        bare: round(median(mine.map((r) => r.bare.coresPerChannel))),
        ratio: round(median(mine.map((r) => r.serverRatio)), 2),
        roundRatios: mine.map((r) => r.serverRatio),
      },
    ];
  });
  // Met when there is a figure at 1 channel and under load (or a tenth fewer, measured when that had none), and
  // every figure is within the target: a count without a counted round is not measured, so not met.
  const met = (found: readonly { channels: number; ratio: number }[]): boolean =>
    found.some((r) => r.channels === 1) &&
    (counts.length === 1 || found.some((r) => r.channels > 1)) &&
    found.every((r) => r.ratio <= targetRatio);
  return {
    input: 'testdata/rtp/h264-opus.jsonl looped (Chromium H.264 640x480 + Opus), replayed in real time',
    variant,
    stepSeconds,
    windowSeconds,
    cores: coreCount,
    maxRealTimeChannels: maxRealTime?.channels ?? 0,
    // False when every step up to maxChannels kept real time: the limit is higher than measured.
    limitFound: nagare.at(-1)?.keptRealTime === false,
    channelsPerCore: round((maxRealTime?.channels ?? 0) / coreCount, 2),
    // 1 / the cores a channel used at the most channels: what a whole core would hold at that cost.
    channelsPerCoreUsed: maxRealTime === undefined ? undefined : round(1 / maxRealTime.coresPerChannel, 2),
    nagare,
    counts,
    pairedRounds: rounds,
    coresPerChannelRatios: ratios,
    serverCoresPerChannelRatios: serverRatios,
    targetRatio,
    // The pipeline alone does the bare ffmpeg's work; the whole server also receives WebRTC. Met only when both are.
    pipelineTargetMet: met(ratios),
    serverTargetMet: met(serverRatios),
    targetMet: met(ratios) && met(serverRatios),
  };
}

function printReport(figures: ReturnType<typeof summarize>): void {
  const { maxRealTimeChannels: most } = figures;
  console.log(`\nDensity: one 640x480@30 1 Mbps variant per channel, ${coreCount} cores`);
  console.log(
    `\nNagare, one channel added every ${stepSeconds} s, measured over its last ${windowSeconds} s:`,
  );
  printTable(nagareColumns, figures.nagare);
  console.log(
    `\nNagare against bare ffmpeg (same input and encoder options), in turn, each measured over ${windowSeconds} s:`,
  );
  printTable(roundColumns, figures.pairedRounds);
  console.log(`\nThe whole server (WebRTC publishers replayed from this process) in the same rounds:`);
  printTable(serverColumns, figures.pairedRounds);
  const higher = figures.limitFound ? '' : ` (all ${maxChannels} kept up: the limit is higher)`;
  console.log(`\nMost channels in real time: ${most}${higher}`);
  console.log(`Channels per core: ${figures.channelsPerCore} (${most} / ${coreCount} cores)`);
  if (figures.channelsPerCoreUsed !== undefined) {
    console.log(`Channels per core used, at ${most} channels: ${figures.channelsPerCoreUsed}`);
  }
  for (const count of figures.counts) {
    const r = figures.coresPerChannelRatios.find((ratio) => ratio.channels === count);
    if (r === undefined) {
      console.log(`At ${count} channel(s): no round where both kept real time, so no ratio (target NOT met)`);
      continue;
    }
    const met = r.ratio <= targetRatio ? 'met' : 'NOT met';
    console.log(
      `At ${r.channels} channel(s): Nagare / bare cores per channel = ${r.ratio}, the median of ${r.roundRatios.join(', ')} (target ≤ ${targetRatio}: ${met})`,
    );
  }
  for (const count of figures.counts) {
    const r = figures.serverCoresPerChannelRatios.find((ratio) => ratio.channels === count);
    if (r === undefined) {
      console.log(
        `At ${count} channel(s), the whole server: no round where both kept real time, so no ratio`,
      );
      continue;
    }
    const met = r.ratio <= targetRatio ? 'met' : 'NOT met';
    console.log(
      `At ${r.channels} channel(s), the whole server / bare = ${r.ratio} (${r.server} against ${r.bare} cores; Node ${r.serverNode}), the median of ${r.roundRatios.join(', ')} (target ≤ ${targetRatio}: ${met})`,
    );
  }
  const verdict = (met: boolean): string => (met ? 'met' : 'NOT met');
  console.log(
    `Target ≤ ${targetRatio} at 1 channel and under load: pipeline ${verdict(figures.pipelineTargetMet)}, whole server ${verdict(figures.serverTargetMet)}`,
  );
}

try {
  const nagare = await phaseA();
  const most = nagare.filter((step) => step.keptRealTime).at(-1)?.channels ?? 0;
  // Under load is three quarters of the most: at the most itself the machine is at its limit, and there even the
  // bare ffmpegs, started all at once, fell behind (measured: 0.93× to 0.99× real time at 18 and 19 of 19).
  const loaded = Math.max(1, Math.round(most * underLoadShare));
  const counts = [...new Set([1, loaded])].filter((count) => count > 0);
  const rounds = await phaseB(counts);
  // A host taking more of the cores for a minute can still make one side fall behind: when no round there kept
  // real time on both sides (for the pipeline or the whole server), a tenth fewer channels are measured too.
  const counted = (count: number, pick: (r: PairedRound) => boolean): boolean =>
    rounds.some((r) => r.channels === count && pick(r));
  const fewer = loaded - Math.max(1, Math.round(most / 10));
  if (fewer > 1 && (!counted(loaded, (r) => r.counted) || !counted(loaded, (r) => r.serverCounted))) {
    counts.push(fewer);
    rounds.push(...(await phaseB([fewer])));
  }
  const figures = summarize(nagare, rounds, counts);
  printReport(figures);
  console.log(`\nwritten to ${writeResults('density', figures)}`);
} finally {
  await cleanUp();
}
