/**
 * Where the composite puts each publisher: pure geometry on the canvas. Every rectangle has even coordinates and
 * sizes, so it falls on whole I420 chroma samples.
 */
import { maxTiles, type Layout } from '../channel/channel-spec.ts';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Rounds down to an even number (I420 chroma is subsampled 2×2). */
const even = (value: number): number => Math.floor(value / 2) * 2;

/** The grid's columns for `count` tiles: 1, 2 side by side, 2×2, 3×3, 4×4. */
function gridColumns(count: number): number {
  if (count <= 1) return 1;
  if (count <= 4) return 2;
  if (count <= 9) return 3;
  return 4;
}

function grid(count: number, width: number, height: number): Rect[] {
  const columns = gridColumns(count);
  const rows = Math.ceil(count / columns);
  const tileWidth = even(width / columns);
  const tileHeight = even(height / rows);
  const top = even((height - rows * tileHeight) / 2);
  const rects: Rect[] = [];
  for (let index = 0; index < count; index++) {
    const row = Math.floor(index / columns);
    const column = index % columns;
    // A last row that is not full is centred.
    const inRow = Math.min(columns, count - row * columns);
    const left = even((width - inRow * tileWidth) / 2);
    rects.push({
      x: left + column * tileWidth,
      y: top + row * tileHeight,
      width: tileWidth,
      height: tileHeight,
    });
  }
  return rects;
}

/** The first publisher in the top three quarters, the others in a strip below (at least three tile widths). */
function featured(count: number, width: number, height: number): Rect[] {
  if (count === 1) return [{ x: 0, y: 0, width, height }];
  const stripHeight = even(height / 4);
  const main: Rect = { x: 0, y: 0, width, height: height - stripHeight };
  const others = count - 1;
  const tileWidth = even(width / Math.max(3, others));
  const left = even((width - others * tileWidth) / 2);
  const rects = [main];
  for (let index = 0; index < others; index++) {
    rects.push({
      x: left + index * tileWidth,
      y: height - stripHeight,
      width: tileWidth,
      height: stripHeight,
    });
  }
  return rects;
}

/** The first publisher full frame, the second in a quarter-size inset at the bottom right; no more are shown. */
function pip(count: number, width: number, height: number): Rect[] {
  const rects: Rect[] = [{ x: 0, y: 0, width, height }];
  if (count >= 2) {
    const insetWidth = even(width / 4);
    const insetHeight = even(height / 4);
    const margin = even(Math.min(width, height) / 32);
    rects.push({
      x: width - insetWidth - margin,
      y: height - insetHeight - margin,
      width: insetWidth,
      height: insetHeight,
    });
  }
  return rects;
}

/**
 * The tiles of `count` publishers in drawing order (later ones are drawn over earlier ones). Fewer rectangles
 * than publishers when the layout shows fewer (pip: 2, others: 16).
 */
export function layoutTiles(type: Layout['type'], count: number, width: number, height: number): Rect[] {
  if (count <= 0) return [];
  const shown = Math.min(count, maxTiles);
  switch (type) {
    case 'grid':
      return grid(shown, width, height);
    case 'featured':
      return featured(shown, width, height);
    case 'pip':
      return pip(shown, width, height);
  }
}

/** A picture of `width`×`height` fitted into `tile`, aspect kept, centred. */
export function fitInto(tile: Rect, width: number, height: number): Rect {
  const scale = Math.min(tile.width / width, tile.height / height);
  const fittedWidth = Math.max(2, Math.min(tile.width, even(width * scale)));
  const fittedHeight = Math.max(2, Math.min(tile.height, even(height * scale)));
  return {
    x: tile.x + even((tile.width - fittedWidth) / 2),
    y: tile.y + even((tile.height - fittedHeight) / 2),
    width: fittedWidth,
    height: fittedHeight,
  };
}

export interface Orderable {
  connectionId: string;
  clientId?: string | undefined;
  joinedAt: number;
}

/**
 * Publishers in layout order: those named by `order` (by connection_id or client_id) first, in its order, then the
 * rest by join time.
 */
export function orderSources<T extends Orderable>(sources: readonly T[], order: readonly string[] = []): T[] {
  const rank = (source: T): number => {
    const byConnection = order.indexOf(source.connectionId);
    if (byConnection >= 0) return byConnection;
    const byClient = source.clientId === undefined ? -1 : order.indexOf(source.clientId);
    return byClient >= 0 ? byClient : order.length;
  };
  return [...sources].sort((a, b) => rank(a) - rank(b) || a.joinedAt - b.joinedAt);
}
