/**
 * The fuzz properties of test/helpers/fuzz-properties.ts at length: `node bench/fuzz.ts [casesPerParser=100000]
 * [seed]`. Prints JSON: per parser the cases run, milliseconds, and whether it failed (with fast-check's report);
 * exits 1 when any failed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFuzzTargets, type FuzzOutcome } from '../test/helpers/fuzz-properties.ts';
import { writeResults } from './results.ts';

const casesPerParser = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
if (!Number.isInteger(casesPerParser) || casesPerParser < 1)
  throw new Error('casesPerParser: a positive integer');

const dir = await mkdtemp(join(tmpdir(), 'nagare-fuzz-bench-'));
try {
  const started = performance.now();
  const outcomes: FuzzOutcome[] = [];
  for (const target of await makeFuzzTargets(dir)) {
    const outcome = target.run(casesPerParser, seed);
    outcomes.push(target.knownBug === undefined ? outcome : { ...outcome, knownBug: target.knownBug });
    process.stderr.write(
      `${outcome.name}: ${outcome.cases} cases, ${outcome.ms} ms${outcome.failed ? ', FAILED' : ''}\n`,
    );
  }
  const failures = outcomes.filter((outcome) => outcome.failed).length;
  const summary = {
    casesPerParser,
    seed,
    totalMs: Math.round(performance.now() - started),
    failures,
    parsers: outcomes,
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.stderr.write(`written to ${writeResults('fuzz', summary)}\n`);
  process.exitCode = failures === 0 ? 0 : 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
