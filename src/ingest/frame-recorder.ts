/**
 * Debug recording of a publisher's ingested frames: one Matroska file per track, written as frames come, so that
 * `ffprobe`/`ffplay` can inspect exactly what the ingest produced (times included).
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { matroskaFrame, matroskaHeader } from '../container/matroska-writer.ts';
import type { EncodedFrame } from '../rtp/encoded-frame.ts';

export class FrameRecorder {
  readonly #dir: string;
  readonly #prefix: string;
  readonly #files = new Map<string, WriteStream>();
  /** Frames not written because the disk was slower than the stream (bounded; counted). */
  dropped = 0;

  constructor(dir: string, prefix: string) {
    this.#dir = dir;
    this.#prefix = prefix;
  }

  write(frame: EncodedFrame): void {
    let file = this.#files.get(frame.kind);
    if (file === undefined) {
      mkdirSync(this.#dir, { recursive: true });
      file = createWriteStream(join(this.#dir, `${this.#prefix}-${frame.kind}.mkv`));
      file.on('error', () => undefined);
      file.write(matroskaHeader([{ number: 1, codec: frame.codec }]));
      this.#files.set(frame.kind, file);
    }
    if (file.writableLength > 8 * 1024 * 1024) {
      this.dropped += 1;
      return;
    }
    const timestampMs = ((frame.ptsTicks ?? 0) * 1000) / frame.timescale;
    file.write(matroskaFrame(1, timestampMs, frame.keyframe, frame.data));
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#files.values()].map(
        (file) =>
          new Promise<void>((resolve) =>
            file.end(() => {
              resolve();
            }),
          ),
      ),
    );
    this.#files.clear();
  }
}
