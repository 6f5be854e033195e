/**
 * Drawing on I420 pictures: solid fills, area-average scaling into a rectangle and the placeholder, checked
 * sample by sample on all three planes, including that nothing outside the rectangle changes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  black,
  copyInto,
  drawPlaceholder,
  drawScaled,
  fillRect,
  placeholderColours,
  placeholderPicture,
  solidPicture,
  type Picture,
} from '../../src/media/i420.ts';
import type { Rect } from '../../src/media/layout.ts';

type Colour = { y: number; u: number; v: number };
type Plane = 'y' | 'u' | 'v';

const red: Colour = { y: 81, u: 90, v: 240 };
const blue: Colour = { y: 41, u: 240, v: 110 };
const grey: Colour = { y: 150, u: 100, v: 160 };

/** Byte offset of sample (x, y) of a plane; chroma coordinates are half the luma ones. */
function offset(picture: Picture, plane: Plane, x: number, y: number): number {
  const { width, height } = picture;
  if (plane === 'y') return y * width + x;
  const chroma = (width / 2) * (height / 2);
  return width * height + (plane === 'v' ? chroma : 0) + y * (width / 2) + x;
}

const sample = (picture: Picture, plane: Plane, x: number, y: number): number =>
  picture.data[offset(picture, plane, x, y)]!;

/** Each sample of a plane with its coordinates. */
function* samples(picture: Picture, plane: Plane): Generator<[x: number, y: number, value: number]> {
  const width = plane === 'y' ? picture.width : picture.width / 2;
  const height = plane === 'y' ? picture.height : picture.height / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) yield [x, y, sample(picture, plane, x, y)];
  }
}

/** Whether a plane's sample lies in `rect` (given in luma coordinates). */
function inRect(plane: Plane, rect: Rect, x: number, y: number): boolean {
  const scale = plane === 'y' ? 1 : 2;
  return (
    x * scale >= rect.x &&
    x * scale < rect.x + rect.width &&
    y * scale >= rect.y &&
    y * scale < rect.y + rect.height
  );
}

/** A picture whose every sample differs from its neighbours: position-dependent noise, deterministic. */
function patterned(width: number, height: number, seed: number): Picture {
  const data = new Uint8Array((width * height * 3) / 2);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state >>> 24;
  }
  return { data, width, height };
}

/** Asserts every sample of `picture` inside `rect` is `inside(plane, x, y)` and every other equals `before`'s. */
function assertDrawn(
  picture: Picture,
  before: Picture,
  rect: Rect,
  inside: (plane: Plane, x: number, y: number) => number,
): void {
  for (const plane of ['y', 'u', 'v'] as const) {
    for (const [x, y, value] of samples(picture, plane)) {
      const expected = inRect(plane, rect, x, y) ? inside(plane, x, y) : sample(before, plane, x, y);
      if (value !== expected) {
        assert.fail(`plane ${plane} at (${x}, ${y}): ${value}, expected ${expected}`);
      }
    }
  }
}

const copy = (picture: Picture): Picture => ({ ...picture, data: picture.data.slice() });

describe('solidPicture', () => {
  test('a 64×36 picture: 3456 bytes, the luma plane then 32×18 of U then 32×18 of V', () => {
    const picture = solidPicture(64, 36, red);
    assert.equal(picture.width, 64);
    assert.equal(picture.height, 36);
    assert.equal(picture.data.length, 64 * 36 * 1.5);
    assert.ok(picture.data.subarray(0, 2304).every((value) => value === red.y));
    assert.ok(picture.data.subarray(2304, 2304 + 576).every((value) => value === red.u));
    assert.ok(picture.data.subarray(2304 + 576).every((value) => value === red.v));
  });

  test('black is limited-range: Y 16, U and V 128', () => {
    assert.deepEqual({ ...black }, { y: 16, u: 128, v: 128 });
  });
});

describe('fillRect', () => {
  test('fills the rectangle on all three planes and nothing else', () => {
    const target = patterned(64, 48, 1);
    const before = copy(target);
    const rect = { x: 10, y: 6, width: 20, height: 14 };
    fillRect(target, rect, grey);
    assertDrawn(target, before, rect, (plane) => grey[plane]);
  });

  test('a rectangle at the bottom right corner', () => {
    const target = patterned(64, 48, 2);
    const before = copy(target);
    const rect = { x: 40, y: 30, width: 24, height: 18 };
    fillRect(target, rect, blue);
    assertDrawn(target, before, rect, (plane) => blue[plane]);
  });
});

describe('drawScaled', () => {
  const rects: [string, Picture, Rect][] = [
    ['a downscale into the middle', solidPicture(128, 72, red), { x: 20, y: 10, width: 64, height: 36 }],
    ['an odd-ratio downscale', solidPicture(128, 72, red), { x: 2, y: 4, width: 46, height: 26 }],
    ['an enlargement', solidPicture(36, 36, red), { x: 0, y: 0, width: 100, height: 70 }],
    ['into a corner', solidPicture(128, 72, red), { x: 96, y: 54, width: 32, height: 18 }],
    ['a 2×2 rectangle', solidPicture(128, 72, red), { x: 50, y: 50, width: 2, height: 2 }],
  ];
  for (const [what, source, rect] of rects) {
    test(`a solid colour, ${what}: exactly that colour in the rectangle, the rest untouched`, () => {
      const target = patterned(128, 72, 3);
      const before = copy(target);
      const sourceBefore = copy(source);
      drawScaled(source, target, rect);
      assertDrawn(target, before, rect, (plane) => red[plane]);
      assert.deepEqual(source.data, sourceBefore.data, 'the source is not changed');
    });
  }

  test('at its own size, the picture is copied byte for byte into the rectangle', () => {
    const source = patterned(32, 18, 4);
    const target = patterned(96, 54, 5);
    const before = copy(target);
    const rect = { x: 34, y: 20, width: 32, height: 18 };
    drawScaled(source, target, rect);
    const scale = (plane: Plane): number => (plane === 'y' ? 1 : 2);
    assertDrawn(target, before, rect, (plane, x, y) =>
      sample(source, plane, x - rect.x / scale(plane), y - rect.y / scale(plane)),
    );
  });

  test('a whole-canvas picture onto the whole canvas: an exact copy', () => {
    const source = patterned(64, 36, 6);
    const target = patterned(64, 36, 7);
    drawScaled(source, target, { x: 0, y: 0, width: 64, height: 36 });
    assert.deepEqual(target.data, source.data);
  });

  test('a 2:1 downscale averages each 2×2 block, rounded to nearest (halves up)', () => {
    const source = patterned(64, 40, 8);
    const target = solidPicture(64, 40, black);
    const before = copy(target);
    const rect = { x: 16, y: 10, width: 32, height: 20 };
    drawScaled(source, target, rect);
    const scale = (plane: Plane): number => (plane === 'y' ? 1 : 2);
    assertDrawn(target, before, rect, (plane, x, y) => {
      const sx = (x - rect.x / scale(plane)) * 2;
      const sy = (y - rect.y / scale(plane)) * 2;
      const sum =
        sample(source, plane, sx, sy) +
        sample(source, plane, sx + 1, sy) +
        sample(source, plane, sx, sy + 1) +
        sample(source, plane, sx + 1, sy + 1);
      return Math.round(sum / 4);
    });
  });

  test('a 2:1 downscale of blocks summing to 42 and 43 gives 11 (10.5 and 10.75 rounded)', () => {
    const source = solidPicture(4, 2, black);
    // Luma row 0: 10 11 | 10 11; row 1: 10 11 | 11 11.
    source.data.set([10, 11, 10, 11, 10, 11, 11, 11], 0);
    const target = solidPicture(4, 2, black);
    drawScaled(source, target, { x: 0, y: 0, width: 2, height: 2 });
    assert.deepEqual([...target.data.subarray(0, 2)], [11, 11]);
  });

  /** Left half red, right half blue. */
  function halves(width: number, height: number): Picture {
    const picture = solidPicture(width, height, blue);
    fillRect(picture, { x: 0, y: 0, width: width / 2, height }, red);
    return picture;
  }

  for (const [from, to] of [
    [
      [128, 72],
      [64, 36],
    ],
    [
      [128, 72],
      [96, 54],
    ],
    [
      [128, 72],
      [48, 28],
    ],
    [
      [64, 36],
      [192, 108],
    ],
    [
      [64, 36],
      [96, 36],
    ],
  ] as const) {
    test(`left red, right blue, ${from[0]}×${from[1]} into ${to[0]}×${to[1]}: the boundary stays in the middle`, () => {
      const source = halves(from[0], from[1]);
      const target = solidPicture(200, 120, black);
      const before = copy(target);
      const rect = { x: 4, y: 2, width: to[0], height: to[1] };
      drawScaled(source, target, rect);
      // Halving both sizes keeps the middle on a whole chroma sample, so every plane splits cleanly.
      assertDrawn(target, before, rect, (plane, x) => {
        const middle = plane === 'y' ? rect.x + rect.width / 2 : (rect.x + rect.width / 2) / 2;
        return x < middle ? red[plane] : blue[plane];
      });
    });
  }

  test('a 3:2 downscale of a vertical ramp stays a monotonic ramp between the first and last rows', () => {
    const source = solidPicture(60, 60, black);
    for (let row = 0; row < 60; row++) source.data.fill(row * 4, row * 60, (row + 1) * 60);
    const target = solidPicture(40, 40, black);
    drawScaled(source, target, { x: 0, y: 0, width: 40, height: 40 });
    const column = Array.from({ length: 40 }, (_, row) => sample(target, 'y', 7, row));
    for (let row = 1; row < 40; row++)
      assert.ok(column[row]! > column[row - 1]!, `row ${row}: ${column.join(' ')}`);
    assert.ok(column[0]! <= 4 && column[39]! >= 232, column.join(' '));
  });
});

/** Where the placeholder is drawn in a 128x72 picture: the whole, halves, inside, at the corner, tiny. */
const placeholderRects: Rect[] = [
  { x: 0, y: 0, width: 128, height: 72 },
  { x: 64, y: 0, width: 64, height: 72 },
  { x: 10, y: 20, width: 40, height: 30 },
  { x: 94, y: 52, width: 32, height: 18 },
  { x: 2, y: 2, width: 8, height: 8 },
];

describe('drawPlaceholder', () => {
  for (const rect of placeholderRects) {
    test(`in {x ${rect.x}, y ${rect.y}, ${rect.width}×${rect.height}}: background and figure inside, nothing outside`, () => {
      const target = patterned(128, 72, 9);
      const before = copy(target);
      drawPlaceholder(target, rect);
      const { background, figure } = placeholderColours;
      let figureSamples = 0;
      let figureX = 0;
      let figureY = 0;
      for (const plane of ['y', 'u', 'v'] as const) {
        for (const [x, y, value] of samples(target, plane)) {
          if (!inRect(plane, rect, x, y)) {
            assert.equal(value, sample(before, plane, x, y), `plane ${plane} at (${x}, ${y}) outside`);
          } else if (plane !== 'y') {
            assert.equal(value, background[plane], `plane ${plane} at (${x}, ${y})`);
          } else if (value === figure.y) {
            figureSamples += 1;
            figureX += x;
            figureY += y;
          } else {
            assert.equal(value, background.y, `luma at (${x}, ${y})`);
          }
        }
      }
      const area = rect.width * rect.height;
      assert.ok(figureSamples > 0, 'a figure is drawn');
      assert.ok(figureSamples < area / 2, `the figure covers ${figureSamples} of ${area}: background shows`);
      // The figure is centred left to right.
      const centreX = figureX / figureSamples;
      assert.ok(Math.abs(centreX - (rect.x + rect.width / 2)) <= 1, `figure centre x ${centreX}`);
      const centreY = figureY / figureSamples;
      assert.ok(centreY > rect.y && centreY < rect.y + rect.height, `figure centre y ${centreY}`);
    });
  }

  test('the figure is exactly the head-and-shoulders shape, pixel by pixel, at tile sizes of the layouts', () => {
    // The shape as defined: a disc for the head, a larger disc cut at its centre row for the shoulders.
    const reference = (rect: Rect, column: number, row: number): boolean => {
      const unit = Math.min(rect.width, rect.height) / 8;
      const dx = column - (rect.x + rect.width / 2);
      const headY = rect.y + rect.height / 2 - unit;
      const shouldersY = rect.y + rect.height / 2 + 2.5 * unit;
      return (
        dx * dx + (row - headY) ** 2 <= unit * unit * 1.4 ||
        (row <= shouldersY && dx * dx + (row - shouldersY) ** 2 <= 5 * unit * unit)
      );
    };
    const tiles: Rect[] = [
      { x: 0, y: 0, width: 640, height: 480 },
      { x: 320, y: 0, width: 320, height: 240 },
      { x: 426, y: 320, width: 214, height: 160 },
      { x: 0, y: 120, width: 320, height: 240 },
      { x: 500, y: 380, width: 138, height: 78 },
      { x: 0, y: 0, width: 2, height: 2 },
    ];
    for (const rect of tiles) {
      const target = solidPicture(640, 480, black);
      drawPlaceholder(target, rect);
      const { figure, background } = placeholderColours;
      for (let row = rect.y; row < rect.y + rect.height; row++) {
        for (let column = rect.x; column < rect.x + rect.width; column++) {
          const expected = reference(rect, column, row) ? figure.y : background.y;
          assert.equal(
            target.data[row * 640 + column],
            expected,
            `${JSON.stringify(rect)} at (${column}, ${row})`,
          );
        }
      }
    }
  });

  test('the figure is lighter than the background, and the two differ from black', () => {
    const { background, figure } = placeholderColours;
    assert.ok(figure.y > background.y);
    assert.ok(background.y > black.y);
  });
});

describe('placeholderPicture and copyInto', () => {
  for (const rect of placeholderRects) {
    test(`copied into {x ${rect.x}, y ${rect.y}, ${rect.width}×${rect.height}}: the same bytes as drawn there`, () => {
      const drawn = patterned(128, 72, 5);
      const copied = copy(drawn);
      drawPlaceholder(drawn, rect);
      copyInto(placeholderPicture(rect.width, rect.height), copied, rect.x, rect.y);
      assert.deepEqual(copied.data, drawn.data);
    });
  }

  test('drawn once per size: the same picture again, another size another picture', () => {
    const first = placeholderPicture(64, 36);
    assert.equal(placeholderPicture(64, 36), first);
    assert.notEqual(placeholderPicture(36, 64), first);
    const alone = solidPicture(64, 36, black);
    drawPlaceholder(alone, { x: 0, y: 0, width: 64, height: 36 });
    assert.deepEqual(first.data, alone.data);
  });

  test('copyInto copies a picture with chroma at the offset and leaves the rest alone', () => {
    const source = patterned(8, 6, 3);
    const target = patterned(16, 12, 4);
    const before = copy(target);
    copyInto(source, target, 4, 2);
    for (const plane of ['y', 'u', 'v'] as const) {
      const scale = plane === 'y' ? 1 : 2;
      for (const [x, y, value] of samples(target, plane)) {
        const inside = inRect(plane, { x: 4, y: 2, width: 8, height: 6 }, x, y);
        const expected = inside
          ? sample(source, plane, x - 4 / scale, y - 2 / scale)
          : sample(before, plane, x, y);
        assert.equal(value, expected, `${plane} (${x}, ${y})`);
      }
    }
  });
});
