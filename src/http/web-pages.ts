/**
 * The browser pages (built from web/ by `npm run build` into web/dist): `/`, `/broadcast`, `/watch`, `/room`,
 * `/admin`, and their assets under `/assets/`. Only the files the build wrote are served, looked up by exact
 * name; anything else is not a page.
 */
import { readFile, readdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

const pageNames = new Map([
  ['/', 'home.html'],
  ['/broadcast', 'broadcast.html'],
  ['/watch', 'watch.html'],
  ['/room', 'room.html'],
  ['/admin', 'admin.html'],
]);

const contentTypes: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
};

export const defaultWebRoot = fileURLToPath(new URL('../../web/dist/', import.meta.url));

export class WebPages {
  readonly #root: string;
  /** Files of the build, by URL path, read once. */
  #files: Map<string, { body: Buffer; type: string }> | undefined;

  constructor(root = defaultWebRoot) {
    this.#root = root;
  }

  /** Whether `path` is a page or an asset; answers GET/HEAD for it. */
  async handle(method: string | undefined, path: string, res: ServerResponse): Promise<boolean> {
    const name = pageNames.get(path) ?? (path.startsWith('/assets/') ? path.slice(1) : undefined);
    if (name === undefined || (method !== 'GET' && method !== 'HEAD')) return false;
    const files = await this.#load();
    const file = files.get(name);
    if (file === undefined) {
      if (files.size > 0) return false;
      res.writeHead(503, { 'Content-Type': contentTypes['txt'] });
      res.end('The browser pages are not built: run `npm run build` (npm start does it).\n');
      return true;
    }
    res.writeHead(200, {
      'Content-Type': file.type,
      'Content-Length': file.body.length,
      // Pages always fresh; assets are rebuilt with the pages, so they are revalidated too.
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(method === 'HEAD' ? undefined : file.body);
    return true;
  }

  async #load(): Promise<Map<string, { body: Buffer; type: string }>> {
    if (this.#files !== undefined) return this.#files;
    const files = new Map<string, { body: Buffer; type: string }>();
    const add = async (relative: string): Promise<void> => {
      const extension = relative.split('.').at(-1) ?? '';
      const type = contentTypes[extension];
      if (type !== undefined) files.set(relative, { body: await readFile(`${this.#root}${relative}`), type });
    };
    try {
      for (const name of await readdir(this.#root)) if (name.endsWith('.html')) await add(name);
      for (const name of await readdir(`${this.#root}assets`)) await add(`assets/${name}`);
    } catch {
      // Not built: every page answers 503 saying so.
    }
    this.#files = files;
    return files;
  }
}
