/**
 * Builds the browser pages: each web/src/pages/<page>.ts with what it imports (sora-js-sdk, hls.js) bundled into
 * web/dist/assets/<page>.js, the stylesheet next to it, and web/html/<page>.html into web/dist/. No CDN: every
 * byte a page needs is served by Nagare. Run by `npm start` and `npm test` before they begin (`npm run build`).
 *
 *   node web/build.ts
 */
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('.', import.meta.url));
const dist = `${root}dist`;
const pages = (await readdir(`${root}src/pages`)).filter((name) => name.endsWith('.ts'));

const started = performance.now();
await rm(dist, { recursive: true, force: true });
await mkdir(`${dist}/assets`, { recursive: true });
await build({
  entryPoints: pages.map((name) => `${root}src/pages/${name}`),
  outdir: `${dist}/assets`,
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'safari16', 'firefox115'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
});
await copyFile(`${root}src/style.css`, `${dist}/assets/style.css`);
for (const name of await readdir(`${root}html`)) await copyFile(`${root}html/${name}`, `${dist}/${name}`);
console.log(
  `web: ${pages.length} pages built into web/dist in ${Math.round(performance.now() - started)} ms`,
);
