/**
 * When this process's event loop was held up: a timer due every `intervalMs` that ran late. On a loaded machine
 * (CPU starved, a long garbage collection) the loop runs late, and the packets that waited in the socket meanwhile
 * are read all at once. To the RTP ingest such a gap in arrivals looks like the sender pausing; asking here how
 * much of the gap was the loop's own tells the two apart.
 */
import { monotonicMs } from './clock.ts';

export interface LoopStallsOptions {
  intervalMs: number;
  /** Lateness below this is ordinary timer jitter, not a stall. */
  thresholdMs: number;
  /** Stalls older than this are forgotten. */
  keepMs: number;
  now: () => number;
}

/**
 * Every 100 ms: the ingest asks only about gaps of a second or more (publisher-clock.ts), and a stall is found
 * from the first tick due after it began, so a stall's start is placed at most 100 ms late. Each tick wakes the
 * process, which on these machines costs 70 to 120 µs of CPU (a 20 ms interval cost 5 ms a second).
 */
const defaults: LoopStallsOptions = { intervalMs: 100, thresholdMs: 30, keepMs: 60_000, now: monotonicMs };
/** Stalls remembered at most; the oldest go first. */
const maxStalls = 512;

export class LoopStalls {
  readonly #options: LoopStallsOptions;
  /** Held-up periods, oldest first: [from, to] on the monotonic clock. */
  #stalls: [fromMs: number, toMs: number][] = [];
  #lastTickMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #users = 0;

  constructor(options: Partial<LoopStallsOptions> = {}) {
    this.#options = { ...defaults, ...options };
  }

  /** Starts watching (counted: each start needs its stop; the timer runs while anyone watches). */
  start(): void {
    this.#users += 1;
    if (this.#timer !== undefined) return;
    this.#lastTickMs = this.#options.now();
    this.#timer = setInterval(() => {
      this.tick(this.#options.now());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#users = Math.max(0, this.#users - 1);
    if (this.#users > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#lastTickMs = undefined;
  }

  /** The timer ran at `nowMs` (called by the timer; tests call it with a made-up clock). */
  tick(nowMs: number): void {
    const last = this.#lastTickMs;
    this.#lastTickMs = nowMs;
    if (last === undefined) return;
    const dueMs = last + this.#options.intervalMs;
    if (nowMs - dueMs >= this.#options.thresholdMs) this.#stalls.push([dueMs, nowMs]);
    const forgetBefore = nowMs - this.#options.keepMs;
    let drop = 0;
    while (drop < this.#stalls.length && (this.#stalls[drop]?.[1] ?? Infinity) < forgetBefore) drop += 1;
    if (this.#stalls.length - drop > maxStalls) drop = this.#stalls.length - maxStalls;
    if (drop > 0) this.#stalls = this.#stalls.slice(drop);
  }

  /**
   * How much of [fromMs, toMs] the loop was held up, ms: the stalls recorded, and one still going (the timer is
   * late now: packets read in the same turn of the loop run before it).
   */
  stalledMsBetween(fromMs: number, toMs: number): number {
    let stalled = 0;
    for (const [start, end] of this.#stalls) stalled += overlap(start, end, fromMs, toMs);
    if (this.#lastTickMs !== undefined) {
      const dueMs = this.#lastTickMs + this.#options.intervalMs;
      if (toMs - dueMs >= this.#options.thresholdMs) stalled += overlap(dueMs, toMs, fromMs, toMs);
    }
    return stalled;
  }
}

function overlap(start: number, end: number, fromMs: number, toMs: number): number {
  return Math.max(0, Math.min(end, toMs) - Math.max(start, fromMs));
}

/** The process's one monitor: the server starts it and stops it. */
export const loopStalls = new LoopStalls();

/** How much of [fromMs, toMs] this process's loop was held up, ms (`loopStalls`, while anyone watches it). */
export const loopStalledMs = (fromMs: number, toMs: number): number =>
  loopStalls.stalledMsBetween(fromMs, toMs);
