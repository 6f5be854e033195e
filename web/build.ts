/**
 * Builds the browser pages: each web/src/pages/<page>.ts with what it imports (sora-js-sdk, hls.js) bundled into
 * web/dist/assets/<page>.js, the stylesheet next to it, and web/dist/<page>.html, the one page shell (header,
 * navigation, status line, app container) with the page's title and script. No CDN: every byte a page needs is
 * served by Nagare. Run by `npm start` and `npm test` before they begin (`npm run build`).
 *
 *   node web/build.ts
 */
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('.', import.meta.url));
const dist = `${root}dist`;
const pages = (await readdir(`${root}src/pages`)).filter((name) => name.endsWith('.ts'));

/** The pages in navigation order: file name, path, heading (the title is the heading with the product's name). */
const shells = [
  { name: 'home', path: '/', heading: 'Nagare', nav: 'Home' },
  { name: 'broadcast', path: '/broadcast', heading: 'Broadcast', nav: 'Broadcast' },
  { name: 'watch', path: '/watch', heading: 'Watch', nav: 'Watch' },
  { name: 'room', path: '/room', heading: 'Room', nav: 'Room' },
  { name: 'admin', path: '/admin', heading: 'Admin', nav: 'Admin' },
] as const;

function shell(page: (typeof shells)[number]): string {
  const title = page.name === 'home' ? 'Nagare' : `${page.heading} — Nagare`;
  const links = shells
    .map(
      (p) => `          <li><a href="${p.path}"${p === page ? ' aria-current="page"' : ''}>${p.nav}</a></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title}</title>
    <link rel="stylesheet" href="/assets/style.css" />
    <script type="module" src="/assets/${page.name}.js"></script>
  </head>
  <body>
    <a class="skip" href="#main">Skip to content</a>
    <header>
      <a class="brand" href="/">Nagare</a>
      <nav aria-label="Pages">
        <ul>
${links}
        </ul>
      </nav>
    </header>
    <main id="main" tabindex="-1">
      <h1>${page.heading}</h1>
      <p id="status" role="status" aria-live="polite"></p>
      <div id="app"></div>
    </main>
  </body>
</html>
`;
}

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
for (const page of shells) await writeFile(`${dist}/${page.name}.html`, shell(page));
console.log(
  `web: ${pages.length} pages built into web/dist in ${Math.round(performance.now() - started)} ms`,
);
