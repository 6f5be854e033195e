/** ffmpeg and ffprobe as independent checkers of what Nagare writes. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/**
 * Decodes a whole file and returns ffmpeg's error output ('' when clean). Every frame is decoded at its own time:
 * no frame-rate conversion and the input's time base, so any error comes from the file, not from ffmpeg's output.
 */
export async function decodeErrors(path: string): Promise<string> {
  const { stderr } = await run('ffmpeg', [
    '-v',
    'error',
    '-xerror',
    '-i',
    path,
    '-fps_mode',
    'passthrough',
    '-enc_time_base',
    '-1',
    '-f',
    'null',
    '-',
  ]);
  return stderr.trim();
}

/** One `-show_entries stream=…` value list of the first stream, as ffprobe prints it with `csv=p=0` (no trailing comma). */
export async function probeStream(path: string, entries: string, select = '0'): Promise<string> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    select,
    '-show_entries',
    `stream=${entries}`,
    '-of',
    'csv=p=0',
    path,
  ]);
  return stdout.trim().replace(/,$/, '');
}
