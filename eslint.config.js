// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Pure protocol and format code must stay free of I/O so it can be tested with byte fixtures
// and reused anywhere (DESIGN.md "Rules of the house").
const pureFolders = [
  'src/rtp/**/*.ts',
  'src/hls/format/**/*.ts',
  'src/media/layout.ts',
  'src/media/i420.ts',
  'src/media/audio-limiter.ts',
];
const ioModules = [
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:dgram',
  'node:http',
  'node:https',
  'node:child_process',
  'node:timers',
  'node:timers/promises',
  'ws',
  'werift',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'data/**',
      'test-results/**',
      '.scratch/**',
      'web/dist/**',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      // Template literals with numbers are how every log line and error message is built.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: pureFolders,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.map((name) => ({
            name,
            message:
              'Protocol and format code is pure: bytes in, bytes out. Do I/O in an adapter outside this folder.',
          })),
        },
      ],
    },
  },
  {
    // The e2e Sora client page is plain browser JavaScript that Chromium loads as-is (test/e2e/harness/pages/).
    // It is outside the TypeScript project, so type-checked rules cannot run on it: lint it as an untyped
    // browser ES module, naming the browser globals it uses (the `globals` package is not a dependency).
    files: ['test/e2e/harness/pages/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'navigator',
          'CSS',
          'WebSocket',
          'MediaStream',
          'AudioContext',
          'AnalyserNode',
          'GainNode',
          'OscillatorNode',
          'MediaStreamAudioDestinationNode',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // node:test's describe/it return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
