/**
 * Replays a captured publisher (testdata/rtp) as a live frame source: the capture goes through the real ingest
 * once, then each frame is handed out in real time at the moment it arrived in the capture, on a channel clock
 * starting now.
 */
import type { EncodedFrame } from '../../src/rtp/encoded-frame.ts';
import { monotonicMs } from '../../src/lib/clock.ts';
import { PublisherIngest } from '../../src/rtp/publisher-ingest.ts';
import { parseSenderReports } from '../../src/rtp/rtcp.ts';
import { parseRtpPacket } from '../../src/rtp/rtp-packet.ts';
import type { FrameSource } from '../../src/media/publisher-decoder.ts';
import { readCapture } from './rtp-capture.ts';

export function ingestCapture(path: string): EncodedFrame[] {
  const capture = readCapture(path);
  const ingest = new PublisherIngest(0);
  ingest.addTrack('opus');
  ingest.addTrack(capture.header.tracks.video.codec);
  const frames: EncodedFrame[] = [];
  for (const packet of capture.packets) {
    const events = [...ingest.poll(packet.t)];
    if (packet.type === 'rtp') events.push(...ingest.rtp(packet.kind, parseRtpPacket(packet.data), packet.t));
    else
      for (const report of parseSenderReports(packet.data))
        ingest.senderReport(packet.kind, report, packet.t);
    for (const event of events) if (event.type === 'frame') frames.push(event.frame);
  }
  return frames;
}

export class ReplaySource implements FrameSource {
  readonly #frames: EncodedFrame[];
  readonly #listeners = new Set<(frame: EncodedFrame) => void>();
  #timer: NodeJS.Timeout | undefined;
  keyframeRequests = 0;

  /** `epochMs`: the channel clock origin the frames' times count from. */
  constructor(frames: EncodedFrame[]) {
    this.#frames = frames;
  }

  /** Starts handing out frames; each arrives `playoutDelayMs` before its presentation time. */
  play(epochMs: number, playoutDelayMs = 200): void {
    const frames = this.#frames;
    const dueAt = (frame: EncodedFrame): number =>
      epochMs + ((frame.ptsTicks ?? 0) * 1000) / frame.timescale - playoutDelayMs;
    let next = 0;
    // One timer at a time, for the next frame due: a long replay costs what a live publisher would.
    const step = (): void => {
      const now = monotonicMs();
      for (let frame = frames[next]; frame !== undefined && dueAt(frame) <= now; frame = frames[next]) {
        next += 1;
        for (const listener of this.#listeners) listener(frame);
      }
      const upcoming = frames[next];
      if (upcoming !== undefined)
        this.#timer = setTimeout(step, Math.max(0, dueAt(upcoming) - monotonicMs()));
    };
    step();
  }

  get lastTimeMs(): number {
    const last = this.#frames.at(-1);
    return last === undefined ? 0 : ((last.ptsTicks ?? 0) * 1000) / last.timescale;
  }

  onFrame(listener: (frame: EncodedFrame) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  requestKeyframe(): void {
    this.keyframeRequests += 1;
  }

  hasTrack(): boolean {
    return true;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
