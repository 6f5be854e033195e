/**
 * One typed configuration, from four layers: defaults < JSON file (--config) < environment (NAGARE_*) < CLI flags.
 * Validated once; every error names the key where the bad value came from and the rule it broke.
 * The option table below is the single definition used for parsing, validation and --help.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const logFormats = ['auto', 'json', 'pretty'] as const;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  apiTokens: readonly string[];
  publicUrl: string | undefined;
  /** A port of its own for HLS, served by `hlsWorkers` worker threads; undefined: HLS on `port`, main thread. */
  hlsPort: number | undefined;
  hlsWorkers: number;
  /** Base of the playlist URLs when HLS has its own port (behind a proxy or CDN, say). */
  hlsPublicUrl: string | undefined;
  logLevel: (typeof logLevels)[number];
  logFormat: (typeof logFormats)[number];
  /** Addresses announced as ICE host candidates besides the interfaces' own. */
  iceHostAddresses: readonly string[];
  /** UDP ports for WebRTC, inclusive; undefined lets the OS choose. */
  udpPortRange: readonly [number, number] | undefined;
  /** STUN/TURN servers handed to clients in `offer.config.iceServers`. */
  iceServers: readonly IceServer[];
  /** Debug: write every publisher's ingested frames as Matroska files here. */
  recordIngestDir: string | undefined;
  ffmpegPath: string;
  /** LL-HLS part duration, seconds. */
  partSeconds: number;
  x264Preset: (typeof x264Presets)[number];
  /** A playlist with one publisher encoded by one ffmpeg (`on`), or always decoded and mixed (`off`). */
  directEncoding: 'on' | 'off';
  /** A live channel with nobody publishing ends its stream after this many seconds. */
  idleTimeoutSeconds: number;
  /** The most the mixer composes behind the channel clock, ms: room for decoding (and where it starts). */
  mixDelayMs: number;
  /** The least it composes behind it, ms, when pictures and sound come early enough (mix-delay.ts). */
  mixDelayMinMs: number;
  /** Channels (not deleted) the server holds at most, all tokens together. */
  maxChannels: number;
  maxConnectionsPerChannel: number;
  /** sendrecv + sendonly connections of a channel. */
  maxPublishersPerChannel: number;
  /** Output pixels per second (width × height × fps of every variant of every playlist encoding), in millions. */
  transcodeBudgetMegapixels: number;
  /** API requests per second for each token (twice that at once). */
  apiRequestsPerSecond: number;
  /** HLS requests in progress at once (blocking ones are held until their part comes); more get 503. */
  maxHlsRequests: number;
  /** Web origins (scheme://host[:port]) whose pages may open /signaling; empty: any. */
  signalingOrigins: readonly string[];
  /** Whether channel webhooks may go to loopback, private or link-local addresses. */
  webhookPrivateAddresses: 'allow' | 'deny';
}

export const x264Presets = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'] as const;

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Parse<T> = (raw: unknown) => T;

interface OptionSpec {
  key: keyof Config;
  flag: string;
  env: string;
  valueName: string;
  description: string;
  defaultText: string;
  parse: Parse<Config[keyof Config]>;
  /** Repeatable on the command line (values are joined with commas). */
  multiple?: boolean;
}

class RuleError extends Error {}

const asString = (raw: unknown): string => {
  if (typeof raw === 'number') return String(raw);
  if (typeof raw !== 'string') throw new RuleError('must be a string');
  return raw.trim();
};

const parsePort: Parse<number> = (raw) => {
  const text = asString(raw);
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new RuleError('must be an integer from 0 to 65535');
  return port;
};

const parseNonEmpty: Parse<string> = (raw) => {
  const text = asString(raw);
  if (text === '') throw new RuleError('must not be empty');
  return text;
};

const parseTokens: Parse<readonly string[]> = (raw) => {
  const parts = (Array.isArray(raw) ? raw.map(asString) : [asString(raw)]).flatMap((part) => part.split(','));
  const tokens = parts.map((part) => part.trim()).filter((part) => part !== '');
  for (const token of tokens) {
    if (token.length < 16 || !/^[\x21-\x7e]+$/.test(token)) {
      throw new RuleError(
        'must be tokens of at least 16 printable ASCII characters, without spaces or commas',
      );
    }
  }
  return tokens;
};

const parsePublicUrl: Parse<string> = (raw) => {
  const text = asString(raw);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RuleError('must be an absolute http or https URL');
  }
  const hasQueryOrFragment = text.includes('?') || text.includes('#');
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || hasQueryOrFragment) {
    throw new RuleError('must be an http or https URL without query or fragment');
  }
  return url.href.replace(/\/+$/, '');
};

const parseAddressList: Parse<readonly string[]> = (raw) => {
  const parts = (Array.isArray(raw) ? raw.map(asString) : [asString(raw)]).flatMap((part) => part.split(','));
  const addresses = parts.map((part) => part.trim()).filter((part) => part !== '');
  for (const address of addresses) {
    if (isIP(address) === 0) throw new RuleError('must be IP addresses, comma-separated');
  }
  return addresses;
};

const parseOriginList: Parse<readonly string[]> = (raw) => {
  const parts = (Array.isArray(raw) ? raw.map(asString) : [asString(raw)]).flatMap((part) => part.split(','));
  return parts
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      let url: URL;
      try {
        url = new URL(part);
      } catch {
        throw new RuleError('must be web origins like https://example.com, comma-separated');
      }
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== part.replace(/\/$/, '')) {
        throw new RuleError('must be web origins like https://example.com (scheme, host and port only)');
      }
      return url.origin;
    });
};

const parsePortRange: Parse<readonly [number, number]> = (raw) => {
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(asString(raw));
  const low = Number(match?.[1]);
  const high = Number(match?.[2]);
  if (match === null || low < 1024 || high > 65535 || low > high) {
    throw new RuleError('must be a range MIN-MAX of UDP ports within 1024-65535, e.g. 40000-40999');
  }
  return [low, high];
};

const parseIceServers: Parse<readonly IceServer[]> = (raw) => {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new RuleError('must be a JSON array like [{"urls":"stun:stun.example.com:3478"}]');
    }
  }
  const rule = 'must be an array of {urls, username?, credential?} with stun:, turn: or turns: URLs';
  if (!Array.isArray(value)) throw new RuleError(rule);
  return value.map((entry: unknown): IceServer => {
    if (typeof entry !== 'object' || entry === null) throw new RuleError(rule);
    const { urls, username, credential } = entry as Record<string, unknown>;
    const list = Array.isArray(urls) ? urls : [urls];
    if (list.length === 0 || !list.every((url) => typeof url === 'string' && /^(stun|turns?):/.test(url))) {
      throw new RuleError(rule);
    }
    if (
      (username !== undefined && typeof username !== 'string') ||
      (credential !== undefined && typeof credential !== 'string')
    ) {
      throw new RuleError(rule);
    }
    return {
      urls: urls as string | string[],
      ...(username === undefined ? {} : { username }),
      ...(credential === undefined ? {} : { credential }),
    };
  });
};

const parseNumberIn =
  (min: number, max: number): Parse<number> =>
  (raw) => {
    const value = Number(asString(raw));
    if (!Number.isFinite(value) || value < min || value > max)
      throw new RuleError(`must be a number from ${min} to ${max}`);
    return value;
  };

const parseIntegerIn =
  (min: number, max: number): Parse<number> =>
  (raw) => {
    const value = Number(asString(raw));
    if (!Number.isInteger(value) || value < min || value > max)
      throw new RuleError(`must be an integer from ${min} to ${max}`);
    return value;
  };

const parseChoice =
  <T extends string>(choices: readonly T[]): Parse<T> =>
  (raw) => {
    const text = asString(raw);
    if (!(choices as readonly string[]).includes(text))
      throw new RuleError(`must be one of ${choices.join(', ')}`);
    return text as T;
  };

export const optionSpecs: readonly OptionSpec[] = [
  {
    key: 'port',
    flag: 'port',
    env: 'NAGARE_PORT',
    valueName: 'N',
    description: 'TCP port for HTTP and WebSocket (0 picks a free port)',
    defaultText: '5000',
    parse: parsePort,
  },
  {
    key: 'host',
    flag: 'host',
    env: 'NAGARE_HOST',
    valueName: 'ADDR',
    description: 'address to listen on',
    defaultText: '0.0.0.0',
    parse: parseNonEmpty,
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'NAGARE_DATA_DIR',
    valueName: 'DIR',
    description: 'where the channel database and the generated API token are kept',
    defaultText: './data',
    parse: (raw) => resolve(parseNonEmpty(raw)),
  },
  {
    key: 'apiTokens',
    flag: 'api-token',
    env: 'NAGARE_API_TOKENS',
    valueName: 'TOKEN',
    description: 'API Bearer token(s), comma-separated or repeated; none: one is generated in the data dir',
    defaultText: '(generated)',
    parse: parseTokens,
    multiple: true,
  },
  {
    key: 'publicUrl',
    flag: 'public-url',
    env: 'NAGARE_PUBLIC_URL',
    valueName: 'URL',
    description: 'base of the URLs the API hands out, e.g. https://live.example.com',
    defaultText: "(the request's Host)",
    parse: parsePublicUrl,
  },
  {
    key: 'hlsPort',
    flag: 'hls-port',
    env: 'NAGARE_HLS_PORT',
    valueName: 'N',
    description:
      'serve HLS on this TCP port too, from worker threads (every core answers viewers; 0 picks a free port); playlist URLs point at it',
    defaultText: '(none: HLS on --port only)',
    parse: parsePort,
  },
  {
    key: 'hlsWorkers',
    flag: 'hls-workers',
    env: 'NAGARE_HLS_WORKERS',
    valueName: 'N',
    description: 'worker threads serving --hls-port',
    defaultText: '(the number of cores)',
    parse: parseIntegerIn(1, 256),
  },
  {
    key: 'hlsPublicUrl',
    flag: 'hls-public-url',
    env: 'NAGARE_HLS_PUBLIC_URL',
    valueName: 'URL',
    description:
      'base of the playlist URLs the API hands out when HLS has its own port, e.g. https://hls.example.com',
    defaultText: "(the request's host, with --hls-port)",
    parse: parsePublicUrl,
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'NAGARE_LOG_LEVEL',
    valueName: 'LEVEL',
    description: `one of ${logLevels.join(', ')}`,
    defaultText: 'info',
    parse: parseChoice(logLevels),
  },
  {
    key: 'logFormat',
    flag: 'log-format',
    env: 'NAGARE_LOG_FORMAT',
    valueName: 'FORMAT',
    description: 'json, pretty (for a terminal), or auto (pretty when stdout is a terminal)',
    defaultText: 'auto',
    parse: parseChoice(logFormats),
  },
  {
    key: 'iceHostAddresses',
    flag: 'ice-host-addresses',
    env: 'NAGARE_ICE_HOST_ADDRESSES',
    valueName: 'IPS',
    description: "addresses announced as ICE host candidates besides the interfaces' own (e.g. a public IP)",
    defaultText: '127.0.0.1',
    parse: parseAddressList,
  },
  {
    key: 'udpPortRange',
    flag: 'udp-port-range',
    env: 'NAGARE_UDP_PORT_RANGE',
    valueName: 'MIN-MAX',
    description: 'UDP ports for WebRTC media, e.g. 40000-40999',
    defaultText: '(any free port)',
    parse: parsePortRange,
  },
  {
    key: 'iceServers',
    flag: 'ice-servers',
    env: 'NAGARE_ICE_SERVERS',
    valueName: 'JSON',
    description: 'STUN/TURN servers handed to clients, e.g. [{"urls":"stun:stun.example.com:3478"}]',
    defaultText: '[]',
    parse: parseIceServers,
  },
  {
    key: 'recordIngestDir',
    flag: 'record-ingest-dir',
    env: 'NAGARE_RECORD_INGEST_DIR',
    valueName: 'DIR',
    description: "debug: write each publisher's ingested frames to Matroska files here (ffprobe reads them)",
    defaultText: '(off)',
    parse: (raw) => resolve(parseNonEmpty(raw)),
  },
  {
    key: 'ffmpegPath',
    flag: 'ffmpeg',
    env: 'NAGARE_FFMPEG',
    valueName: 'PATH',
    description: 'the ffmpeg binary used to decode and encode',
    defaultText: 'ffmpeg',
    parse: parseNonEmpty,
  },
  {
    key: 'partSeconds',
    flag: 'part-duration',
    env: 'NAGARE_PART_DURATION',
    valueName: 'SECONDS',
    description: 'LL-HLS part duration',
    defaultText: '0.2',
    parse: parseNumberIn(0.2, 2),
  },
  {
    key: 'x264Preset',
    flag: 'x264-preset',
    env: 'NAGARE_X264_PRESET',
    valueName: 'PRESET',
    description: `encoder speed against quality: ${x264Presets.join(', ')}`,
    defaultText: 'veryfast',
    parse: parseChoice(x264Presets),
  },
  {
    key: 'directEncoding',
    flag: 'direct-encoding',
    env: 'NAGARE_DIRECT_ENCODING',
    valueName: 'on|off',
    description:
      'on: a playlist showing one broadcaster is encoded by one ffmpeg from its frames (less CPU; a discontinuity when a second broadcaster comes or goes); off: always decoded and mixed',
    defaultText: 'on',
    parse: parseChoice(['on', 'off'] as const),
  },
  {
    key: 'idleTimeoutSeconds',
    flag: 'idle-timeout',
    env: 'NAGARE_IDLE_TIMEOUT',
    valueName: 'SECONDS',
    description: 'a live channel with nobody publishing ends its stream after this long (slate meanwhile)',
    defaultText: '600',
    parse: parseNumberIn(1, 86_400),
  },
  {
    key: 'mixDelayMs',
    flag: 'mix-delay',
    env: 'NAGARE_MIX_DELAY',
    valueName: 'MS',
    description:
      'the most the mixer composes behind the channel clock, and where it starts: room for decoding (less is lower latency, more pictures shown late, counted)',
    defaultText: '200',
    parse: parseNumberIn(50, 2000),
  },
  {
    key: 'mixDelayMinMs',
    flag: 'mix-delay-min',
    env: 'NAGARE_MIX_DELAY_MIN',
    valueName: 'MS',
    description:
      'the least: the mixer comes down towards it while pictures and sound arrive early enough, and goes back up at once when they do not (--mix-delay-min equal to --mix-delay: a fixed delay)',
    defaultText: '0',
    parse: parseNumberIn(0, 2000),
  },
  {
    key: 'maxChannels',
    flag: 'max-channels',
    env: 'NAGARE_MAX_CHANNELS',
    valueName: 'N',
    description: 'channels the server holds at most (not deleted, all tokens); more are refused with 503',
    defaultText: '10000',
    parse: parseIntegerIn(1, 10_000_000),
  },
  {
    key: 'maxHlsRequests',
    flag: 'max-hls-requests',
    env: 'NAGARE_MAX_HLS_REQUESTS',
    valueName: 'N',
    description:
      'HLS requests in progress at once, blocking ones included (about 25 KB each while held); more are answered 503 with Retry-After (with --hls-port: each worker its share, the main port as many again)',
    defaultText: '20000',
    parse: parseIntegerIn(1, 10_000_000),
  },
  {
    key: 'maxConnectionsPerChannel',
    flag: 'max-connections-per-channel',
    env: 'NAGARE_MAX_CONNECTIONS_PER_CHANNEL',
    valueName: 'N',
    description: 'WebRTC connections of one channel at most; more are closed with 4503',
    defaultText: '100',
    parse: parseIntegerIn(1, 10_000),
  },
  {
    key: 'maxPublishersPerChannel',
    flag: 'max-publishers-per-channel',
    env: 'NAGARE_MAX_PUBLISHERS_PER_CHANNEL',
    valueName: 'N',
    description: 'sendrecv + sendonly connections of one channel at most; more are closed with 4503',
    defaultText: '16',
    parse: parseIntegerIn(1, 1000),
  },
  {
    key: 'transcodeBudgetMegapixels',
    flag: 'transcode-budget',
    env: 'NAGARE_TRANSCODE_BUDGET',
    valueName: 'MPIXELS',
    description:
      'encoding budget, millions of output pixels per second (width × height × fps of every variant of every playlist being encoded); a publisher who would exceed it is closed with 4503',
    defaultText: '100',
    parse: parseNumberIn(0.1, 100_000),
  },
  {
    key: 'apiRequestsPerSecond',
    flag: 'api-rate',
    env: 'NAGARE_API_RATE',
    valueName: 'N',
    description: 'API requests per second for each token (twice that at once); more are answered 429',
    defaultText: '20',
    parse: parseNumberIn(0.1, 100_000),
  },
  {
    key: 'signalingOrigins',
    flag: 'signaling-origins',
    env: 'NAGARE_SIGNALING_ORIGINS',
    valueName: 'ORIGINS',
    description:
      'web origins whose pages may open /signaling, comma-separated (e.g. https://live.example.com); others get 403. Clients that send no Origin (not browsers) are let in',
    defaultText: '(any)',
    parse: parseOriginList,
  },
  {
    key: 'webhookPrivateAddresses',
    flag: 'webhook-private-addresses',
    env: 'NAGARE_WEBHOOK_PRIVATE_ADDRESSES',
    valueName: 'allow|deny',
    description:
      'whether auth and event webhooks may go to loopback, private or link-local addresses (allow for receivers on this machine or network)',
    defaultText: 'deny',
    parse: parseChoice(['allow', 'deny'] as const),
  },
];

export const defaultConfig: Readonly<Config> = {
  port: 5000,
  host: '0.0.0.0',
  dataDir: resolve('data'),
  apiTokens: [],
  publicUrl: undefined,
  hlsPort: undefined,
  hlsWorkers: availableParallelism(),
  hlsPublicUrl: undefined,
  logLevel: 'info',
  logFormat: 'auto',
  iceHostAddresses: ['127.0.0.1'],
  udpPortRange: undefined,
  iceServers: [],
  recordIngestDir: undefined,
  ffmpegPath: 'ffmpeg',
  partSeconds: 0.2,
  x264Preset: 'veryfast',
  directEncoding: 'on',
  idleTimeoutSeconds: 600,
  // 200 at most: with 10 % loss (test/e2e/impaired-network.test.ts) and a fixed delay, sound still came late to
  // the mixer now and then at 150 (1 run in 6) and 100 (2 in 10), its beeps drifting from the flashes; none in 6
  // at 200. Adapting from 0 to 200, a late sound raises the delay at once: in 5 runs it stayed at 200 or came
  // down to 75, and one run's beeps moved (5 ms a second, the publisher clock's slew) with no sound late or
  // dropped at the mixer.
  mixDelayMs: 200,
  mixDelayMinMs: 0,
  maxChannels: 10_000,
  maxConnectionsPerChannel: 100,
  maxPublishersPerChannel: 16,
  transcodeBudgetMegapixels: 100,
  apiRequestsPerSecond: 20,
  maxHlsRequests: 20_000,
  signalingOrigins: [],
  webhookPrivateAddresses: 'deny',
};

export interface ConfigSources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

export type ConfigResult =
  { kind: 'config'; config: Readonly<Config> } | { kind: 'help' } | { kind: 'version' };

function applyLayer(config: Config, spec: OptionSpec, raw: unknown, where: string): void {
  try {
    (config as unknown as Record<string, unknown>)[spec.key] = spec.parse(raw);
  } catch (err) {
    if (err instanceof RuleError) throw new ConfigError(`${where} ${err.message}`);
    throw err;
  }
}

function applyFile(config: Config, path: string, readFile: (path: string) => string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFile(path));
  } catch (err) {
    throw new ConfigError(`config file ${path} cannot be read as JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    const spec = optionSpecs.find((candidate) => candidate.key === key);
    if (spec === undefined) {
      const known = optionSpecs.map((candidate) => candidate.key).join(', ');
      throw new ConfigError(`config file ${path}: "${key}" is not a known key (known: ${known})`);
    }
    applyLayer(config, spec, value, `config file ${path}: "${key}"`);
  }
}

function applyEnv(config: Config, env: ConfigSources['env']): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('NAGARE_') || value === undefined) continue;
    const spec = optionSpecs.find((candidate) => candidate.env === name);
    if (spec === undefined) {
      const known = optionSpecs.map((candidate) => candidate.env).join(', ');
      throw new ConfigError(`environment variable ${name} is not a known setting (known: ${known})`);
    }
    applyLayer(config, spec, value, name);
  }
}

/** Builds the configuration from its sources; never reads process globals itself. */
export function loadConfig(sources: ConfigSources): ConfigResult {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  for (const spec of optionSpecs) options[spec.flag] = { type: 'string', multiple: spec.multiple === true };
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: [...sources.argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} (see --help)`);
  }
  if (values['help'] === true) return { kind: 'help' };
  if (values['version'] === true) return { kind: 'version' };

  const config: Config = { ...defaultConfig };
  const configPath = values['config'];
  if (typeof configPath === 'string') {
    applyFile(config, resolve(configPath), sources.readFile ?? ((path) => readFileSync(path, 'utf8')));
  }
  applyEnv(config, sources.env);
  for (const spec of optionSpecs) {
    const raw = values[spec.flag];
    if (raw !== undefined) applyLayer(config, spec, raw, `--${spec.flag}`);
  }
  if (config.hlsPort !== undefined && config.hlsPort !== 0 && config.hlsPort === config.port) {
    throw new ConfigError(`--hls-port must differ from --port (both ${config.port})`);
  }
  if (config.mixDelayMinMs > config.mixDelayMs) {
    throw new ConfigError(
      `--mix-delay-min (${config.mixDelayMinMs}) must not exceed --mix-delay (${config.mixDelayMs})`,
    );
  }
  return { kind: 'config', config: Object.freeze(config) };
}

export function helpText(version: string): string {
  const rows = [
    ['--config FILE', '', 'JSON file with any of the keys below (camelCase, e.g. "dataDir")', ''],
    ...optionSpecs.map((spec) => [
      `--${spec.flag} ${spec.valueName}`,
      spec.env,
      spec.description,
      spec.defaultText,
    ]),
    ['--help', '', 'print this help', ''],
    ['--version', '', 'print the version', ''],
  ];
  const width = Math.max(...rows.map((row) => (row[0] ?? '').length));
  const lines = rows.map(([flag = '', env, description, fallback]) => {
    const details = [env === '' ? '' : `[${env}]`, fallback === '' ? '' : `(default: ${fallback})`]
      .filter((part) => part !== '')
      .join(' ');
    return `  ${flag.padEnd(width)}  ${description}${details === '' ? '' : `\n  ${' '.repeat(width)}  ${details}`}`;
  });
  return [
    `Nagare ${version}: WebRTC in (Sora-compatible signaling), HLS out.`,
    '',
    'Usage: npm start -- [options]',
    '',
    'Options (defaults < --config file < NAGARE_* environment < flags):',
    ...lines,
    '',
  ].join('\n');
}
