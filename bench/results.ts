/**
 * Where the benchmarks put their figures: `bench/results/<name>.json`, one file per benchmark holding its latest
 * run, with the machine, the versions of the programs measured and the commit they were measured on.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

/** First line a program prints for `args` (on stdout, or on stderr as `nginx -v` does), or 'not found'. */
function versionOf(command: string, args: readonly string[]): string {
  const run = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (run.error !== undefined) return 'not found';
  const firstLine = (text: string) => text.split('\n')[0]?.trim() ?? '';
  return firstLine(run.stdout) || firstLine(run.stderr);
}

/** The machine and programs a figure was measured with. */
export function describeMachine(extra: Readonly<Record<string, readonly string[]>> = {}) {
  const cores = cpus();
  const programs: Record<string, string> = {
    node: process.version,
    ffmpeg: versionOf('ffmpeg', ['-hide_banner', '-version']),
  };
  for (const [name, args] of Object.entries(extra)) programs[name] = versionOf(name, args);
  return {
    cpu: cores[0]?.model.trim() ?? 'unknown',
    cores: cores.length,
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    freeMemoryGiB: Number((freemem() / 2 ** 30).toFixed(1)),
    kernel: versionOf('uname', ['-r']),
    programs,
  };
}

/**
 * The commit measured, read when the benchmark starts (what runs is what was checked out then), marked when files
 * other than bench/results/ differed from it.
 */
function commit(): string {
  const top = fileURLToPath(new URL('..', import.meta.url));
  const sha = versionOf('git', ['-C', top, 'rev-parse', '--short', 'HEAD']);
  const dirty = versionOf('git', ['-C', top, 'status', '--porcelain', '--', '.', ':!bench/results']);
  return dirty === '' ? sha : `${sha} (uncommitted changes)`;
}
const measuredCommit = commit();

/**
 * Writes `bench/results/<name>.json`: when, the command line, the machine, and `figures` as given. Returns the
 * path written.
 */
export function writeResults(
  name: string,
  figures: unknown,
  options: { programs?: Readonly<Record<string, readonly string[]>> } = {},
): string {
  mkdirSync(resultsDir, { recursive: true });
  const path = `${resultsDir}${name}.json`;
  const record = {
    benchmark: name,
    measuredAt: new Date().toISOString(),
    command: `node ${process.argv
      .slice(1)
      .map((arg) => arg.replace(/^.*\/bench\//, 'bench/'))
      .join(' ')}`,
    commit: measuredCommit,
    machine: describeMachine(options.programs),
    figures,
  };
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}
