/**
 * Debian Chromium driven by playwright-core for browser end-to-end tests (FACTS.md "Chromium and browsers in
 * tests"). Playwright's own browser download cannot work offline, so we point it at `/usr/bin/chromium`.
 *
 * Each launch gets its own temporary profile directory; `close()` closes the browser, waits until no process
 * that names that directory is left, and removes it.
 */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

/** FACTS.md: the flags seen working on these machines. */
export const chromiumArgs: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  // Without it Chromium gathers no ICE candidates when `lo` is the only interface.
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];

const profilePrefix = 'nagare-e2e-chromium-';
/** How long close() waits for Chromium's helper processes to exit before killing the stragglers. */
const exitWaitMs = 5_000;

export function chromiumAvailable(): boolean {
  try {
    accessSync(chromiumPath, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * For `test(name, { skip: e2eSkipReason() }, …)`: undefined when Chromium is there, a skip message when it is
 * not. On CI a missing browser must fail the run rather than silently skip every browser test.
 */
export function e2eSkipReason(): string | undefined {
  if (chromiumAvailable()) return undefined;
  if (process.env.CI === 'true') {
    throw new Error('Chromium is required when CI=true: apt-get install -y chromium');
  }
  return `${chromiumPath} not found (apt-get install -y chromium); browser tests skipped`;
}

export interface BrowserHandle {
  readonly context: BrowserContext;
  /** The temporary profile directory; every Chromium process of this launch names it on its command line. */
  readonly profileDir: string;
  newPage(): Promise<Page>;
  /** Idempotent: closes the browser, waits for all its processes to exit and removes the profile. */
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<BrowserHandle> {
  const profileDir = await mkdtemp(join(tmpdir(), profilePrefix));
  let context: BrowserContext;
  try {
    // launch() refuses --user-data-dir; a persistent context is how a chosen profile dir is used.
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [...chromiumArgs],
      // chrome_crashpad_handler daemonizes and keeps its database under $XDG_CONFIG_HOME/chromium, not under the
      // profile. Pointing XDG_CONFIG_HOME into the profile keeps $HOME clean and puts the profile path on the
      // handler's command line too, so the exit check in close() accounts for it.
      env: { ...process.env, XDG_CONFIG_HOME: profileDir },
    });
  } catch (error) {
    await stopProcessesNaming(profileDir);
    await rm(profileDir, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    profileDir,
    newPage: () => context.newPage(),
    close() {
      closing ??= (async () => {
        try {
          await context.close();
        } finally {
          await stopProcessesNaming(profileDir);
          await rm(profileDir, { recursive: true, force: true });
        }
      })();
      return closing;
    },
  };
}

/**
 * Pids of live processes whose command line contains `needle` (what `pgrep -f` does, without depending on
 * procps). Zombies are skipped: they are gone except for their exit status.
 */
export async function pidsWithCommandLine(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (!cmdline.includes(needle)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z') pids.push(pid);
    } catch {
      // The process exited while we were looking.
    }
  }
  return pids;
}

/** Waits for the processes of one launch to exit; SIGKILLs the ones still there after exitWaitMs. */
async function stopProcessesNaming(profileDir: string): Promise<void> {
  const deadline = Date.now() + exitWaitMs;
  for (;;) {
    const pids = await pidsWithCommandLine(profileDir);
    if (pids.length === 0) return;
    if (Date.now() >= deadline) {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      return;
    }
    await sleep(50);
  }
}
