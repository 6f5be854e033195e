/**
 * Drawing on I420 pictures for the composite: fill, scale a whole picture into a rectangle (area average, so a
 * downscale does not alias), and the placeholder of a publisher without video. Pure and allocation-light: the
 * column tables of a scale are cached per size pair.
 */
import type { Rect } from './layout.ts';

/** Black in limited-range BT.601. */
export const black = { y: 16, u: 128, v: 128 } as const;

export interface Picture {
  data: Uint8Array;
  width: number;
  height: number;
}

interface Planes {
  y: number;
  u: number;
  v: number;
  chromaWidth: number;
  chromaHeight: number;
}

function planes(width: number, height: number): Planes {
  const luma = width * height;
  const chromaWidth = width / 2;
  const chromaHeight = height / 2;
  return { y: 0, u: luma, v: luma + chromaWidth * chromaHeight, chromaWidth, chromaHeight };
}

/** Bytes of an I420 picture of this size (even sides). */
export function i420Bytes(width: number, height: number): number {
  return (width * height * 3) / 2;
}

/** A new picture filled with one colour. */
export function solidPicture(
  width: number,
  height: number,
  colour: { y: number; u: number; v: number },
): Picture {
  const data = new Uint8Array(i420Bytes(width, height));
  const p = planes(width, height);
  data.fill(colour.y, 0, p.u);
  data.fill(colour.u, p.u, p.v);
  data.fill(colour.v, p.v);
  return { data, width, height };
}

function fillPlane(
  plane: Uint8Array,
  stride: number,
  x: number,
  y: number,
  w: number,
  h: number,
  value: number,
): void {
  for (let row = y; row < y + h; row++) plane.fill(value, row * stride + x, row * stride + x + w);
}

/** Fills `rect` (even coordinates) of `target` with one colour. */
export function fillRect(target: Picture, rect: Rect, colour: { y: number; u: number; v: number }): void {
  const p = planes(target.width, target.height);
  const { data } = target;
  fillPlane(data.subarray(p.y, p.u), target.width, rect.x, rect.y, rect.width, rect.height, colour.y);
  const cx = rect.x / 2;
  const cy = rect.y / 2;
  fillPlane(data.subarray(p.u, p.v), p.chromaWidth, cx, cy, rect.width / 2, rect.height / 2, colour.u);
  fillPlane(data.subarray(p.v), p.chromaWidth, cx, cy, rect.width / 2, rect.height / 2, colour.v);
}

/** For each output column, the source columns [start, end) it averages. */
interface ColumnTable {
  start: Uint32Array;
  end: Uint32Array;
}

const columnTables = new Map<string, ColumnTable>();

function columnTable(from: number, to: number): ColumnTable {
  const key = `${from}>${to}`;
  let table = columnTables.get(key);
  if (table === undefined) {
    table = { start: new Uint32Array(to), end: new Uint32Array(to) };
    for (let i = 0; i < to; i++) {
      const start = Math.min(from - 1, Math.floor((i * from) / to));
      table.start[i] = start;
      table.end[i] = Math.max(start + 1, Math.floor(((i + 1) * from) / to));
    }
    // A handful of layouts and canvases give a handful of pairs; bound it anyway.
    if (columnTables.size > 256) columnTables.clear();
    columnTables.set(key, table);
  }
  return table;
}

/** Scales one plane into a rectangle of another by area averaging (nearest sample when enlarging). */
function scalePlane(
  source: Uint8Array,
  sourceWidth: number,
  sourceHeight: number,
  target: Uint8Array,
  targetStride: number,
  rect: Rect,
  sums: Uint32Array,
): void {
  const { x, y, width, height } = rect;
  if (width === sourceWidth && height === sourceHeight) {
    for (let row = 0; row < height; row++) {
      target.set(source.subarray(row * sourceWidth, (row + 1) * sourceWidth), (y + row) * targetStride + x);
    }
    return;
  }
  if (width * 2 === sourceWidth && height * 2 === sourceHeight) {
    halvePlane(source, sourceWidth, target, targetStride, rect);
    return;
  }
  const columns = columnTable(sourceWidth, width);
  for (let row = 0; row < height; row++) {
    const firstRow = Math.min(sourceHeight - 1, Math.floor((row * sourceHeight) / height));
    const endRow = Math.max(firstRow + 1, Math.floor(((row + 1) * sourceHeight) / height));
    sums.fill(0, 0, sourceWidth);
    for (let sourceRow = firstRow; sourceRow < endRow; sourceRow++) {
      const offset = sourceRow * sourceWidth;
      for (let column = 0; column < sourceWidth; column++) {
        sums[column] = (sums[column] ?? 0) + (source[offset + column] ?? 0);
      }
    }
    const rows = endRow - firstRow;
    const out = (y + row) * targetStride + x;
    for (let i = 0; i < width; i++) {
      const start = columns.start[i] ?? 0;
      const end = columns.end[i] ?? start + 1;
      let sum = 0;
      for (let column = start; column < end; column++) sum += sums[column] ?? 0;
      const count = rows * (end - start);
      target[out + i] = (sum + (count >> 1)) / count;
    }
  }
}

/** The common case of a 2×2 grid or two side by side: each output sample the rounded mean of a 2×2 block. */
function halvePlane(
  source: Uint8Array,
  sourceWidth: number,
  target: Uint8Array,
  targetStride: number,
  rect: Rect,
): void {
  const { x, y, width, height } = rect;
  for (let row = 0; row < height; row++) {
    let top = 2 * row * sourceWidth;
    let bottom = top + sourceWidth;
    let out = (y + row) * targetStride + x;
    for (let i = 0; i < width; i++) {
      target[out] =
        ((source[top] ?? 0) +
          (source[top + 1] ?? 0) +
          (source[bottom] ?? 0) +
          (source[bottom + 1] ?? 0) +
          2) >>
        2;
      top += 2;
      bottom += 2;
      out += 1;
    }
  }
}

let sharedSums = new Uint32Array(0);

/** Draws the whole of `source` scaled into `rect` (even coordinates and sizes) of `target`. */
export function drawScaled(source: Picture, target: Picture, rect: Rect): void {
  if (sharedSums.length < source.width) sharedSums = new Uint32Array(source.width);
  const s = planes(source.width, source.height);
  const t = planes(target.width, target.height);
  const chromaRect: Rect = { x: rect.x / 2, y: rect.y / 2, width: rect.width / 2, height: rect.height / 2 };
  const src = source.data;
  const dst = target.data;
  scalePlane(
    src.subarray(s.y, s.u),
    source.width,
    source.height,
    dst.subarray(t.y, t.u),
    target.width,
    rect,
    sharedSums,
  );
  scalePlane(
    src.subarray(s.u, s.v),
    s.chromaWidth,
    s.chromaHeight,
    dst.subarray(t.u, t.v),
    t.chromaWidth,
    chromaRect,
    sharedSums,
  );
  scalePlane(
    src.subarray(s.v),
    s.chromaWidth,
    s.chromaHeight,
    dst.subarray(t.v),
    t.chromaWidth,
    chromaRect,
    sharedSums,
  );
}

/** Dark grey with a lighter head-and-shoulders figure: a publisher that sends no picture. */
export const placeholderColours = {
  background: { y: 48, u: 128, v: 128 },
  figure: { y: 112, u: 128, v: 128 },
};

/** Draws the placeholder into `rect` of `target`. */
export function drawPlaceholder(target: Picture, rect: Rect): void {
  const { background, figure } = placeholderColours;
  fillRect(target, rect, background);
  const p = planes(target.width, target.height);
  const luma = target.data.subarray(p.y, p.u);
  const unit = Math.min(rect.width, rect.height) / 8;
  const centreX = rect.x + rect.width / 2;
  const headY = rect.y + rect.height / 2 - unit;
  const shouldersY = rect.y + rect.height / 2 + 2.5 * unit;
  const head = (column: number, row: number): boolean =>
    (column - centreX) ** 2 + (row - headY) ** 2 <= unit * unit * 1.4;
  const shoulders = (column: number, row: number): boolean =>
    row <= shouldersY && (column - centreX) ** 2 + (row - shouldersY) ** 2 <= 5 * unit * unit;
  // Row by row, each shape is one run of columns: filled at once rather than tested pixel by pixel (a tile of a
  // publisher without a picture is redrawn at every tick).
  const shapes = [head, shoulders];
  for (let row = rect.y; row < rect.y + rect.height; row++) {
    const rowStart = row * target.width;
    for (const inside of shapes) {
      const [first, last] = runOf(inside, row, centreX, rect.x, rect.x + rect.width - 1);
      if (first <= last) luma.fill(figure.y, rowStart + first, rowStart + last + 1);
    }
  }
}

/** Placeholders drawn once per size, newest last; layouts use few sizes. */
const placeholders = new Map<string, Picture>();
const maxPlaceholders = 32;

/**
 * The placeholder at this size (even sides), drawn once and then kept: a tile without a picture is copied from it
 * at every tick instead of drawn (measured: drawing a whole 640x480 placeholder 30 times a second was 7 % of the
 * server's CPU while four decoders caught up). The same bytes as `drawPlaceholder` into any rect of that size. Read
 * only: it is shared.
 */
export function placeholderPicture(width: number, height: number): Picture {
  const key = `${width}x${height}`;
  let picture = placeholders.get(key);
  if (picture === undefined) {
    picture = solidPicture(width, height, black);
    drawPlaceholder(picture, { x: 0, y: 0, width, height });
    if (placeholders.size >= maxPlaceholders) placeholders.delete(placeholders.keys().next().value ?? key);
    placeholders.set(key, picture);
  }
  return picture;
}

/** Copies the whole of `source` into `target` with its top left corner at (x, y), both even. */
export function copyInto(source: Picture, target: Picture, x: number, y: number): void {
  const s = planes(source.width, source.height);
  const t = planes(target.width, target.height);
  for (let row = 0; row < source.height; row++) {
    const from = row * source.width;
    target.data.set(source.data.subarray(from, from + source.width), (y + row) * target.width + x);
  }
  const cx = x / 2;
  const cy = y / 2;
  for (const [sourcePlane, targetPlane] of [
    [s.u, t.u],
    [s.v, t.v],
  ] as const) {
    for (let row = 0; row < s.chromaHeight; row++) {
      const from = sourcePlane + row * s.chromaWidth;
      target.data.set(
        source.data.subarray(from, from + s.chromaWidth),
        targetPlane + (cy + row) * t.chromaWidth + cx,
      );
    }
  }
}

/**
 * The columns [first, last] within [min, max] where `inside(column, row)` holds, for a shape that is convex
 * across a row and symmetric about `centre`: empty (first > last) when the row misses it.
 */
function runOf(
  inside: (column: number, row: number) => boolean,
  row: number,
  centre: number,
  min: number,
  max: number,
): [number, number] {
  const middle = Math.min(max, Math.max(min, Math.round(centre)));
  if (!inside(middle, row)) return [1, 0];
  let first = middle;
  let last = middle;
  // Binary search each edge: the predicate holds on one contiguous run around the centre.
  for (let step = 1 << 16; step >= 1; step >>= 1) {
    if (first - step >= min && inside(first - step, row)) first -= step;
    if (last + step <= max && inside(last + step, row)) last += step;
  }
  return [first, last];
}
