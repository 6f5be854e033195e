/**
 * loadConfig as a pure function of argv, environment and an injected file reader; then the CLI's own
 * --help and bad-flag handling through the real process.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { defaultConfig, loadConfig, optionSpecs, type Config, type ConfigSources } from '../../src/config.ts';
import { runCli } from '../helpers/server.ts';

const configPath = resolve('nagare.json');
const tokenA = 'token-a-0123456789abcdef';
const tokenB = 'token-b-0123456789abcdef';
const tokenC = 'token-c-0123456789abcdef';

/** The options this suite is about; others may be added to Config without touching these tests. */
const apiKeys = ['port', 'host', 'dataDir', 'apiTokens', 'publicUrl', 'logLevel', 'logFormat'] as const;
const pick = (config: Readonly<Config>): Record<string, unknown> =>
  Object.fromEntries(apiKeys.map((key) => [key, config[key]]));
const knownKeys = optionSpecs.map((spec) => spec.key).join(', ');
const knownEnv = optionSpecs.map((spec) => spec.env).join(', ');

/** The config file, when given, is served by an injected reader that only knows `nagare.json`. */
function load(
  argv: string[],
  env: ConfigSources['env'] = {},
  file?: Record<string, unknown> | string,
): Readonly<Config> {
  const sources: ConfigSources = {
    argv: file === undefined ? argv : ['--config', 'nagare.json', ...argv],
    env,
    readFile: (path) => {
      assert.equal(path, configPath, 'the file path is resolved before reading');
      return typeof file === 'string' ? file : JSON.stringify(file);
    },
  };
  const result = loadConfig(sources);
  assert.equal(result.kind, 'config');
  return (result as { config: Readonly<Config> }).config;
}

describe('loadConfig', () => {
  test('no flags, no environment and no file give the defaults, frozen', () => {
    const config = load([]);
    assert.deepEqual(config, defaultConfig);
    assert.deepEqual(pick(config), {
      port: 5000,
      host: '0.0.0.0',
      dataDir: resolve('data'),
      apiTokens: [],
      publicUrl: undefined,
      logLevel: 'info',
      logFormat: 'auto',
    });
    assert.ok(Object.isFrozen(config));
  });

  test('variables outside NAGARE_ are ignored', () => {
    assert.deepEqual(load([], { PATH: '/bin', PORT: 'not-a-port', HOME: '/root' }), defaultConfig);
  });

  const layers: [string, string[], ConfigSources['env'], Record<string, unknown> | undefined, number][] = [
    ['the default', [], {}, undefined, 5000],
    ['the file over the default', [], {}, { port: 1111 }, 1111],
    ['the environment over the file', [], { NAGARE_PORT: '2222' }, { port: 1111 }, 2222],
    [
      'the flag over the environment and the file',
      ['--port', '3333'],
      { NAGARE_PORT: '2222' },
      { port: 1111 },
      3333,
    ],
    ['the flag over the file', ['--port', '3333'], {}, { port: 1111 }, 3333],
    ['the flag over the environment', ['--port', '3333'], { NAGARE_PORT: '2222' }, undefined, 3333],
    ['the environment over the default', [], { NAGARE_PORT: '2222' }, undefined, 2222],
  ];
  for (const [what, argv, env, file, port] of layers) {
    test(`port precedence: ${what} gives ${port}`, () => {
      assert.equal(load(argv, env, file).port, port);
    });
  }

  test('every option can come from each layer', () => {
    const file = { host: '127.0.0.2', dataDir: '/srv/nagare', logLevel: 'warn', apiTokens: [tokenA] };
    const env = { NAGARE_PUBLIC_URL: 'https://live.example.com/base/', NAGARE_LOG_FORMAT: 'json' };
    const config = load(['--port', '0'], env, file);
    assert.deepEqual(pick(config), {
      port: 0,
      host: '127.0.0.2',
      dataDir: '/srv/nagare',
      apiTokens: [tokenA],
      publicUrl: 'https://live.example.com/base',
      logLevel: 'warn',
      logFormat: 'json',
    });
  });

  test('HLS on a port of its own: --hls-port, --hls-workers, NAGARE_HLS_PUBLIC_URL', () => {
    const config = load(['--hls-port', '5001', '--hls-workers', '3'], {
      NAGARE_HLS_PUBLIC_URL: 'https://hls.example.com/',
    });
    assert.equal(config.hlsPort, 5001);
    assert.equal(config.hlsWorkers, 3);
    assert.equal(config.hlsPublicUrl, 'https://hls.example.com');
    const defaults = load([]);
    assert.equal(defaults.hlsPort, undefined, 'HLS on the main port unless asked');
    assert.ok(defaults.hlsWorkers >= 1);
  });

  const bad: [string, () => unknown, string][] = [
    ['--port 70000', () => load(['--port', '70000']), '--port must be an integer from 0 to 65535'],
    ['--port -1', () => load(['--port=-1']), '--port must be an integer from 0 to 65535'],
    [
      'NAGARE_PORT=abc',
      () => load([], { NAGARE_PORT: 'abc' }),
      'NAGARE_PORT must be an integer from 0 to 65535',
    ],
    [
      'a config file "port": "x"',
      () => load([], {}, { port: 'x' }),
      `config file ${configPath}: "port" must be an integer from 0 to 65535`,
    ],
    [
      'a config file "port": 80.5',
      () => load([], {}, { port: 80.5 }),
      `config file ${configPath}: "port" must be an integer from 0 to 65535`,
    ],
    [
      'an unknown config file key',
      () => load([], {}, { prot: 80 }),
      `config file ${configPath}: "prot" is not a known key (known: ${knownKeys})`,
    ],
    [
      'a config file holding an array',
      () => load([], {}, '[]'),
      `config file ${configPath} must hold a JSON object`,
    ],
    [
      'an unknown NAGARE_ variable',
      () => load([], { NAGARE_PROT: '80' }),
      `environment variable NAGARE_PROT is not a known setting (known: ${knownEnv})`,
    ],
    ['an unknown flag', () => load(['--prot', '80']), "Unknown option '--prot' (see --help)"],
    [
      'a short api token',
      () => load(['--api-token', 'short']),
      '--api-token must be tokens of at least 16 printable ASCII characters, without spaces or commas',
    ],
    [
      'a short token in NAGARE_API_TOKENS',
      () => load([], { NAGARE_API_TOKENS: `${tokenA},short` }),
      'NAGARE_API_TOKENS must be tokens of at least 16 printable ASCII characters, without spaces or commas',
    ],
    [
      'a public url with the ftp scheme',
      () => load(['--public-url', 'ftp://live.example.com']),
      '--public-url must be an http or https URL without query or fragment',
    ],
    [
      'a public url that is not a URL',
      () => load([], { NAGARE_PUBLIC_URL: 'live.example.com' }),
      'NAGARE_PUBLIC_URL must be an absolute http or https URL',
    ],
    [
      'an unknown log level',
      () => load(['--log-level', 'loud']),
      '--log-level must be one of fatal, error, warn, info, debug, trace, silent',
    ],
    [
      'a signaling origin with a path',
      () => load(['--signaling-origins', 'https://a.example.com,https://b.example.com/page']),
      '--signaling-origins must be web origins like https://example.com (scheme, host and port only)',
    ],
    [
      'a signaling origin that is not a URL',
      () => load(['--signaling-origins', 'example.com']),
      '--signaling-origins must be web origins like https://example.com, comma-separated',
    ],
    [
      '--hls-port 65536',
      () => load(['--hls-port', '65536']),
      '--hls-port must be an integer from 0 to 65535',
    ],
    ['--hls-workers 0', () => load(['--hls-workers', '0']), '--hls-workers must be an integer from 1 to 256'],
    [
      'the HLS port equal to the main port',
      () => load(['--hls-port', '5000'], { NAGARE_PORT: '5000' }),
      '--hls-port must differ from --port (both 5000)',
    ],
    [
      'a least mixer delay above the most',
      () => load(['--mix-delay-min', '300'], { NAGARE_MIX_DELAY: '250' }),
      '--mix-delay-min (300) must not exceed --mix-delay (250)',
    ],
    [
      'an hls public url with a query',
      () => load([], { NAGARE_HLS_PUBLIC_URL: 'https://hls.example.com/?a=1' }),
      'NAGARE_HLS_PUBLIC_URL must be an http or https URL without query or fragment',
    ],
    [
      'a fractional publisher limit',
      () => load(['--max-publishers-per-channel', '2.5']),
      '--max-publishers-per-channel must be an integer from 1 to 1000',
    ],
  ];
  for (const [what, run, message] of bad) {
    test(`${what} is refused naming its source and rule: ${message}`, () => {
      assert.throws(run, (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'ConfigError');
        assert.equal(err.message, message);
        return true;
      });
    });
  }

  test('--api-token repeated gives every token, in order', () => {
    assert.deepEqual(load(['--api-token', tokenA, '--api-token', tokenB]).apiTokens, [tokenA, tokenB]);
  });

  test('NAGARE_API_TOKENS comma-separated gives every token, blanks dropped', () => {
    assert.deepEqual(load([], { NAGARE_API_TOKENS: ` ${tokenA}, ,${tokenB} ` }).apiTokens, [tokenA, tokenB]);
  });

  test('--api-token comma-separated gives every token, also when repeated', () => {
    assert.deepEqual(load(['--api-token', `${tokenA},${tokenB}`]).apiTokens, [tokenA, tokenB]);
    assert.deepEqual(load(['--api-token', `${tokenA},${tokenB}`, '--api-token', tokenC]).apiTokens, [
      tokenA,
      tokenB,
      tokenC,
    ]);
  });

  test('a public url ending in an empty query or fragment is refused', () => {
    for (const url of ['https://live.example.com/?', 'https://live.example.com/base#']) {
      assert.throws(() => load(['--public-url', url]), {
        name: 'ConfigError',
        message: '--public-url must be an http or https URL without query or fragment',
      });
    }
  });

  test('--help and -h return kind help, --version kind version, before any value is checked', () => {
    assert.deepEqual(loadConfig({ argv: ['--help'], env: {} }), { kind: 'help' });
    assert.deepEqual(loadConfig({ argv: ['-h', '--port', '70000'], env: { NAGARE_PROT: 'x' } }), {
      kind: 'help',
    });
    assert.deepEqual(loadConfig({ argv: ['--version'], env: {} }), { kind: 'version' });
  });
});

describe('the CLI', () => {
  test('--help exits 0 and lists every flag and environment variable of optionSpecs', async () => {
    const { code, stdout, stderr } = await runCli(['--help']);
    assert.equal(code, 0, stderr);
    for (const spec of optionSpecs) {
      assert.ok(stdout.includes(`--${spec.flag} ${spec.valueName}`), `--${spec.flag} is not in --help`);
      assert.ok(stdout.includes(spec.env), `${spec.env} is not in --help`);
    }
    for (const flag of ['--config', '--help', '--version']) assert.ok(stdout.includes(flag), flag);
  });

  for (const [args, env, key] of [
    [['--port', '70000'], {}, '--port'],
    [['--prot', '80'], {}, '--prot'],
    [[], { NAGARE_PORT: 'abc' }, 'NAGARE_PORT'],
  ] as const) {
    test(`a bad ${key} exits 2 with "nagare:" and ${key} on stderr`, async () => {
      const { code, stdout, stderr } = await runCli([...args], { ...env });
      assert.equal(code, 2);
      assert.match(stderr, /^nagare: /);
      assert.ok(stderr.includes(key), stderr);
      assert.equal(stdout, '');
    });
  }
});

describe("the README's configuration table", () => {
  // Rows look like: | `--mix-delay MS` | `NAGARE_MIX_DELAY` | `200` | description |; a cell may hold an escaped \|
  const rows = new Map(
    readFileSync('README.md', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('| `--'))
      .map((line) => line.split(/(?<!\\)\|/).map((cell) => cell.trim()))
      .map((cells) => [cells[1]?.split(' ')[0]?.replace('`', '') ?? '', cells] as const),
  );

  for (const spec of optionSpecs) {
    test(`--${spec.flag}: its row names ${spec.env} and the default`, () => {
      const cells = rows.get(`--${spec.flag}`);
      assert.ok(cells !== undefined, `--${spec.flag} has no row`);
      assert.equal(cells[2], `\`${spec.env}\``);
      // Defaults written in parentheses ("(generated)") are prose, worded for the README in its own way.
      if (!spec.defaultText.startsWith('(')) assert.equal(cells[3], `\`${spec.defaultText}\``);
    });
  }
});
