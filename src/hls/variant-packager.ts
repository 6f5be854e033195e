/**
 * One variant's live HLS stream: CMAF fragments from the encoder become LL-HLS parts, grouped into segments cut on
 * the keyframes the encoder forces at the boundaries of a SegmentSchedule (every `segmentSeconds`, after a short
 * first segment), kept in a bounded window in memory. Each encoder generation brings its own
 * init segment; the first segment after a new one is marked as a discontinuity (RFC 8216bis §4.4.4.3).
 * Listeners hear every change (the origin's blocking playlist requests wait on them).
 *
 * A packager is a deterministic function of the operations applied to it: a copy restored from its snapshot and
 * given the same operations from then on holds the same segments, numbers and bytes. The HLS workers (their own
 * threads) serve such copies (see src/origin/hls-workers.ts).
 */
import type { FragmentInfo, InitInfo } from './format/fmp4-reader.ts';
import { nextBoundary, type SegmentSchedule } from './segment-schedule.ts';

export interface PackagerOptions {
  segmentSeconds: number;
  /** Length of each encoder run's first segment (SegmentSchedule.firstSeconds); default segmentSeconds. */
  firstSegmentSeconds?: number;
  partTargetSeconds: number;
  /** Complete segments kept (and listed) behind the live edge. */
  windowSegments: number;
  /** Wallclock (ms since 1970) of channel time 0, for EXT-X-PROGRAM-DATE-TIME. */
  epochWallclockMs: number;
}

export interface Part {
  index: number;
  durationSeconds: number;
  independent: boolean;
  bytes: Uint8Array;
}

export interface Segment {
  msn: number;
  /** Channel time of its first frame, seconds. */
  startSeconds: number;
  durationSeconds: number;
  parts: Part[];
  complete: boolean;
  discontinuity: boolean;
  initId: number;
  programDateTime: Date;
  /** The whole segment, once complete. */
  bytes: Uint8Array | undefined;
}

export interface PackagerStats {
  segments: number;
  parts: number;
  fragmentsDropped: number;
  inits: number;
}

/** What changes a packager, as data: what a copy of it needs to follow it. */
export type PackagerOp =
  | { kind: 'init'; bytes: Uint8Array; info: InitInfo; startSeconds: number }
  | { kind: 'fragment'; bytes: Uint8Array; info: FragmentInfo }
  | { kind: 'end-generation' }
  | { kind: 'end' };

/** Everything a packager holds, as plain data that survives structured cloning (postMessage). */
export interface PackagerState {
  options: PackagerOptions;
  segments: Segment[];
  inits: Init[];
  currentInitId: number | undefined;
  stats: PackagerStats;
  nextMsn: number;
  discontinuitySequence: number;
  pendingDiscontinuity: boolean;
  ended: boolean;
  longestSegmentSeconds: number;
}

interface Init {
  id: number;
  bytes: Uint8Array;
  info: InitInfo;
  /** Channel time at which this generation's decode times start. */
  startSeconds: number;
}

export class VariantPackager {
  readonly #options: PackagerOptions;
  readonly #segments: Segment[] = [];
  readonly #inits = new Map<number, Init>();
  readonly #listeners = new Set<() => void>();
  readonly #opListeners = new Set<(op: PackagerOp) => void>();
  readonly #stats: PackagerStats = { segments: 0, parts: 0, fragmentsDropped: 0, inits: 0 };
  #init: Init | undefined;
  #nextMsn = 0;
  #discontinuitySequence = 0;
  #pendingDiscontinuity = false;
  #ended = false;
  #longestSegmentSeconds = 0;
  #revision = 0;
  readonly #schedule: SegmentSchedule;

  constructor(options: PackagerOptions) {
    this.#options = options;
    this.#schedule = {
      segmentSeconds: options.segmentSeconds,
      firstSeconds: options.firstSegmentSeconds ?? options.segmentSeconds,
    };
  }

  /** A copy of the packager `state` was taken from, as it was then. */
  static restore(state: PackagerState): VariantPackager {
    const packager = new VariantPackager(state.options);
    packager.#segments.push(...state.segments);
    for (const init of state.inits) packager.#inits.set(init.id, init);
    packager.#init = state.currentInitId === undefined ? undefined : packager.#inits.get(state.currentInitId);
    Object.assign(packager.#stats, state.stats);
    packager.#nextMsn = state.nextMsn;
    packager.#discontinuitySequence = state.discontinuitySequence;
    packager.#pendingDiscontinuity = state.pendingDiscontinuity;
    packager.#ended = state.ended;
    packager.#longestSegmentSeconds = state.longestSegmentSeconds;
    return packager;
  }

  /** Everything the packager holds now; its byte arrays are shared, not copied (postMessage copies them). */
  snapshot(): PackagerState {
    return {
      options: { ...this.#options },
      segments: this.#segments.map((segment) => ({ ...segment, parts: [...segment.parts] })),
      inits: [...this.#inits.values()],
      currentInitId: this.#init?.id,
      stats: { ...this.#stats },
      nextMsn: this.#nextMsn,
      discontinuitySequence: this.#discontinuitySequence,
      pendingDiscontinuity: this.#pendingDiscontinuity,
      ended: this.#ended,
      longestSegmentSeconds: this.#longestSegmentSeconds,
    };
  }

  /** Hears every operation applied, before it is applied: `apply(op)` on a copy does the same to it. */
  onOp(listener: (op: PackagerOp) => void): () => void {
    this.#opListeners.add(listener);
    return () => this.#opListeners.delete(listener);
  }

  apply(op: PackagerOp): void {
    switch (op.kind) {
      case 'init':
        this.setInit(op.bytes, op.info, op.startSeconds);
        return;
      case 'fragment':
        this.addFragment(op.bytes, op.info);
        return;
      case 'end-generation':
        this.endGeneration();
        return;
      case 'end':
        this.end();
        return;
    }
  }

  get options(): Readonly<PackagerOptions> {
    return this.#options;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get discontinuitySequence(): number {
    return this.#discontinuitySequence;
  }

  /** Segments in the window, oldest first; the last may be open (parts only). */
  get segments(): readonly Segment[] {
    return this.#segments;
  }

  /** EXT-X-TARGETDURATION: the segment length, or the longest segment seen if one ran over. */
  get targetDurationSeconds(): number {
    return Math.max(this.#options.segmentSeconds, Math.round(this.#longestSegmentSeconds));
  }

  stats(): PackagerStats {
    return { ...this.#stats };
  }

  init(id: number): Uint8Array | undefined {
    return this.#inits.get(id)?.bytes;
  }

  /** The codec strings of the current init (for CODECS in the multivariant playlist). */
  get codecs(): string[] | undefined {
    return this.#init?.info.tracks.map((track) => track.codec);
  }

  segment(msn: number): Segment | undefined {
    return this.#segments.find((segment) => segment.msn === msn);
  }

  /** The newest part: [msn, part index], or undefined before the first. */
  get lastPart(): readonly [number, number] | undefined {
    const last = this.#segments.at(-1);
    if (last === undefined) return undefined;
    return [last.msn, last.parts.length - 1];
  }

  /**
   * Where the next part will be: [msn, part index]. A segment that has reached its boundary ends at the next
   * keyframe, which the encoder forces there, so the next part then opens a new segment.
   */
  get nextPart(): readonly [number, number] | undefined {
    const last = this.#segments.at(-1);
    if (last === undefined) return undefined;
    if (last.complete || this.#reachedBoundary(last)) return [last.msn + 1, 0];
    return [last.msn, last.parts.length];
  }

  /** A player can start: a complete segment is listed (hls.js will not start on the parts of an open one). */
  get playable(): boolean {
    return this.#segments.some((segment) => segment.complete);
  }

  /** The segment's end has reached the next boundary of its encoder run's schedule. */
  #reachedBoundary(segment: Segment): boolean {
    const runStart = segment.startSeconds - (this.#inits.get(segment.initId)?.startSeconds ?? 0);
    const boundary = nextBoundary(this.#schedule, runStart + 0.001);
    return runStart + segment.durationSeconds >= boundary - 0.001;
  }

  /** Counts the changes: whatever is rendered from this packager is the same while it stays the same. */
  get revision(): number {
    return this.#revision;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A new encoder generation's init segment, with the channel time its decode times start at. */
  setInit(bytes: Uint8Array, info: InitInfo, startSeconds: number): void {
    this.#emit({ kind: 'init', bytes, info, startSeconds });
    const id = (this.#init?.id ?? 0) + 1;
    if (this.#init !== undefined) {
      this.#closeOpenSegment();
      this.#pendingDiscontinuity = true;
    }
    this.#init = { id, bytes: bytes.slice(), info, startSeconds };
    this.#inits.set(id, this.#init);
    this.#stats.inits += 1;
  }

  addFragment(bytes: Uint8Array, info: FragmentInfo): void {
    this.#emit({ kind: 'fragment', bytes, info });
    const init = this.#init;
    if (init === undefined || this.#ended) {
      this.#stats.fragmentsDropped += 1;
      return;
    }
    const open = this.#segments.at(-1);
    const openSegment = open?.complete === false ? open : undefined;
    const due = openSegment !== undefined && this.#reachedBoundary(openSegment);
    if (openSegment === undefined || this.#pendingDiscontinuity || (info.independent && due)) {
      if (!info.independent) {
        // A segment must begin with a keyframe; wait for one.
        this.#stats.fragmentsDropped += 1;
        return;
      }
      this.#closeOpenSegment();
      this.#openSegment(init.startSeconds + info.startSeconds, init.id);
    }
    const segment = this.#segments.at(-1);
    if (segment === undefined) return;
    segment.parts.push({
      index: segment.parts.length,
      durationSeconds: info.durationSeconds,
      independent: info.independent,
      bytes: bytes.slice(),
    });
    segment.durationSeconds += info.durationSeconds;
    this.#stats.parts += 1;
    // At its boundary the segment is complete: the next fragment starts a new one on the keyframe forced there,
    // and a player that loads whole segments sees this one a part earlier.
    if (this.#reachedBoundary(segment)) this.#closeOpenSegment();
    this.#notify();
  }

  /** The encoder generation ended (it died or stopped): its last segment is complete as it is. */
  endGeneration(): void {
    this.#emit({ kind: 'end-generation' });
    this.#closeOpenSegment();
    this.#notify();
  }

  /** The stream is over: close the open segment; the playlist gets EXT-X-ENDLIST. */
  end(): void {
    if (this.#ended) return;
    this.#emit({ kind: 'end' });
    this.#closeOpenSegment();
    this.#ended = true;
    this.#notify();
  }

  #openSegment(startSeconds: number, initId: number): void {
    this.#segments.push({
      msn: this.#nextMsn,
      startSeconds,
      durationSeconds: 0,
      parts: [],
      complete: false,
      discontinuity: this.#pendingDiscontinuity,
      initId,
      programDateTime: new Date(this.#options.epochWallclockMs + startSeconds * 1000),
      bytes: undefined,
    });
    this.#nextMsn += 1;
    this.#pendingDiscontinuity = false;
  }

  #closeOpenSegment(): void {
    const open = this.#segments.at(-1);
    if (open === undefined || open.complete) return;
    if (open.parts.length === 0) {
      this.#segments.pop();
      this.#nextMsn -= 1;
      return;
    }
    open.complete = true;
    open.bytes = concatParts(open.parts);
    this.#longestSegmentSeconds = Math.max(this.#longestSegmentSeconds, open.durationSeconds);
    this.#stats.segments += 1;
    this.#trimWindow();
  }

  #trimWindow(): void {
    const complete = this.#segments.filter((segment) => segment.complete).length;
    let excess = complete - this.#options.windowSegments;
    while (excess > 0) {
      const dropped = this.#segments.shift();
      if (dropped === undefined) break;
      excess -= 1;
      // EXT-X-DISCONTINUITY-SEQUENCE counts the discontinuities no longer listed (RFC 8216bis §4.4.3.3).
      if (dropped.discontinuity) this.#discontinuitySequence += 1;
    }
    const usedInits = new Set(this.#segments.map((segment) => segment.initId));
    for (const id of this.#inits.keys())
      if (!usedInits.has(id) && id !== this.#init?.id) this.#inits.delete(id);
  }

  #emit(op: PackagerOp): void {
    for (const listener of this.#opListeners) listener(op);
  }

  #notify(): void {
    this.#revision += 1;
    for (const listener of this.#listeners) listener();
  }
}

function concatParts(parts: readonly Part[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.bytes.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part.bytes, offset);
    offset += part.bytes.length;
  }
  return out;
}
