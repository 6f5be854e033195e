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

/** A file's streams (ffprobe -show_streams) and the times of its video keyframes, in order. */
export async function probeKeyframes(
  path: string,
): Promise<{ streams: Record<string, string>[]; keyframes: number[] }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path]);
  const streams = (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams;
  const shown = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v',
    '-show_frames',
    '-show_entries',
    'frame=pts_time,key_frame',
    '-of',
    'csv=p=0',
    path,
  ]);
  const keyframes = shown.stdout
    .split('\n')
    .map((line) => line.split(','))
    .filter((fields) => fields[0] === '1')
    .map((fields) => Number(fields[1]));
  return { streams, keyframes };
}
