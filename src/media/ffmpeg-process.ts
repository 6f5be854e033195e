/**
 * One ffmpeg child, supervised: argv given as an array (no shell), extra pipes beyond stdio as needed, stderr read
 * by lines into a ring of the last lines for failure reports, "failed to start" told apart from "died", and
 * stop = SIGTERM then SIGKILL after a grace period. The real exit code and signal are always reported.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the process could not be started at all (e.g. the binary is missing). */
  failedToStart: boolean;
  /** Why, in one line: the spawn error, or the last stderr lines. */
  reason: string;
  /** Whether `stop()` asked for it. */
  requested: boolean;
}

export interface FfmpegProcessOptions {
  path: string;
  args: readonly string[];
  /** File descriptors beyond 0-2 to open as pipes, e.g. [3, 4]. */
  extraPipes?: readonly number[];
  stderrLines?: number;
  stopGraceMs?: number;
}

export class FfmpegProcess {
  readonly #options: FfmpegProcessOptions;
  readonly #stderr: string[] = [];
  #child: ChildProcess | undefined;
  #stopRequested = false;
  #resolveExit: (exit: FfmpegExit) => void = () => undefined;
  readonly exited: Promise<FfmpegExit>;

  constructor(options: FfmpegProcessOptions) {
    this.#options = options;
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The last stderr lines, oldest first. */
  get stderrTail(): readonly string[] {
    return this.#stderr;
  }

  start(): void {
    if (this.#child !== undefined) throw new Error('already started');
    const pipes = this.#options.extraPipes ?? [];
    const highest = Math.max(2, ...pipes);
    const stdio: ('pipe' | 'ignore')[] = [];
    for (let fd = 0; fd <= highest; fd++) stdio.push(fd <= 2 || pipes.includes(fd) ? 'pipe' : 'ignore');
    const child = spawn(this.#options.path, [...this.#options.args], { stdio });
    this.#child = child;
    let settled = false;
    const finish = (exit: Omit<FfmpegExit, 'requested'>): void => {
      if (settled) return;
      settled = true;
      this.#resolveExit({ ...exit, requested: this.#stopRequested });
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      finish({
        code: null,
        signal: null,
        failedToStart: child.pid === undefined,
        reason: `${err.code ?? ''} ${err.message}`.trim(),
      });
    });
    child.once('close', (code, signal) => {
      const tail = this.#stderr.slice(-3).join(' | ');
      finish({
        code,
        signal,
        failedToStart: false,
        reason: tail === '' ? `exited (${signal ?? code})` : tail,
      });
    });
    for (const fd of [0, ...pipes]) this.stream(fd)?.on('error', () => undefined);
    this.#readStderr(child.stderr);
  }

  /** The pipe at this file descriptor (0 is stdin, 1 stdout, 3+ the extra pipes). */
  stream(fd: number): (Readable & Writable) | undefined {
    return this.#child?.stdio[fd] as (Readable & Writable) | undefined;
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when it has exited. */
  async stop(): Promise<FfmpegExit> {
    const child = this.#child;
    if (child === undefined)
      return { code: null, signal: null, failedToStart: false, reason: 'never started', requested: true };
    this.#stopRequested = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.destroy();
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), this.#options.stopGraceMs ?? 2000);
      const exit = await this.exited;
      clearTimeout(kill);
      return exit;
    }
    return this.exited;
  }

  /** Kills it hard (tests of supervision, and a stuck child). */
  kill(): void {
    this.#child?.kill('SIGKILL');
  }

  #readStderr(stderr: Readable | null): void {
    if (stderr === null) return;
    const decoder = new StringDecoder('utf8');
    const limit = this.#options.stderrLines ?? 20;
    let partial = '';
    stderr.on('data', (chunk: Buffer) => {
      // Split on whole lines across chunks; a chunk may end mid-line.
      const lines = (partial + decoder.write(chunk)).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        this.#stderr.push(line.slice(0, 500));
        if (this.#stderr.length > limit) this.#stderr.shift();
      }
      if (partial.length > 4096) partial = partial.slice(-4096);
    });
  }
}
