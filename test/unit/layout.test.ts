/**
 * The composite's geometry as pure functions: for every publisher count from 1 to 20 and a range of canvases,
 * the tiles of each layout are even, inside the canvas and arranged as the layout says; fitInto keeps the
 * picture's aspect inside its tile; orderSources puts the named publishers first.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { maxTiles } from '../../src/channel/channel-spec.ts';
import { fitInto, layoutTiles, orderSources, type Orderable, type Rect } from '../../src/media/layout.ts';

/** Canvases a channel may have: even sizes from 36 to 4096, common and extreme aspects. */
const canvases: [number, number][] = [
  [640, 480],
  [1280, 720],
  [1920, 1080],
  [320, 240],
  [854, 480],
  [36, 36],
  [4096, 36],
  [36, 4096],
  [38, 62],
];
const counts = Array.from({ length: 20 }, (_, index) => index + 1);

const describeRect = (r: Rect): string => `{x ${r.x}, y ${r.y}, ${r.width}×${r.height}}`;

function assertEvenAndInside(rects: Rect[], width: number, height: number, what: string): void {
  for (const r of rects) {
    for (const value of [r.x, r.y, r.width, r.height]) {
      assert.ok(value % 2 === 0, `${what}: ${describeRect(r)} is not even`);
    }
    assert.ok(r.width > 0 && r.height > 0, `${what}: ${describeRect(r)} is empty`);
    assert.ok(r.x >= 0 && r.y >= 0, `${what}: ${describeRect(r)} starts outside the canvas`);
    assert.ok(
      r.x + r.width <= width && r.y + r.height <= height,
      `${what}: ${describeRect(r)} ends outside ${width}×${height}`,
    );
  }
}

const overlaps = (a: Rect, b: Rect): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

const contains = (outer: Rect, inner: Rect): boolean =>
  inner.x >= outer.x &&
  inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width &&
  inner.y + inner.height <= outer.y + outer.height;

function assertNoOverlap(rects: Rect[], what: string): void {
  for (let i = 0; i < rects.length; i++) {
    for (let j = i + 1; j < rects.length; j++) {
      assert.ok(
        !overlaps(rects[i]!, rects[j]!),
        `${what}: tile ${i} ${describeRect(rects[i]!)} overlaps tile ${j} ${describeRect(rects[j]!)}`,
      );
    }
  }
}

const even = (value: number): number => Math.floor(value / 2) * 2;

/** 1 tile: 1 column; 2: side by side; 3–4: 2×2; 5–9: three columns; 10–16: four columns. */
const expectedColumns = (shown: number): number => (shown === 1 ? 1 : shown <= 4 ? 2 : shown <= 9 ? 3 : 4);

describe('layoutTiles grid', () => {
  for (const [width, height] of canvases) {
    test(`${width}×${height}: for 1 to 20 publishers, min(count, 16) even tiles inside the canvas that never overlap`, () => {
      for (const count of counts) {
        const what = `${count} on ${width}×${height}`;
        const rects = layoutTiles('grid', count, width, height);
        assert.equal(rects.length, Math.min(count, maxTiles), what);
        assertEvenAndInside(rects, width, height, what);
        assertNoOverlap(rects, what);
      }
    });

    test(`${width}×${height}: 1 column for 1, 2 for 2 to 4, 3 for 5 to 9, 4 for 10 and more, rows filled in order`, () => {
      for (const count of counts) {
        const what = `${count} on ${width}×${height}`;
        const rects = layoutTiles('grid', count, width, height);
        const shown = Math.min(count, maxTiles);
        const columns = expectedColumns(shown);
        const rows = Math.ceil(shown / columns);
        const tileWidth = even(width / columns);
        const tileHeight = even(height / rows);
        const ys = [...new Set(rects.map((r) => r.y))].sort((a, b) => a - b);
        assert.equal(ys.length, rows, `${what}: rows`);
        rects.forEach((r, index) => {
          assert.equal(r.width, tileWidth, `${what}: tile ${index} width`);
          assert.equal(r.height, tileHeight, `${what}: tile ${index} height`);
          assert.equal(
            r.y,
            ys[Math.floor(index / columns)],
            `${what}: tile ${index} is in row ${index / columns}`,
          );
        });
        for (let row = 0; row < rows; row++) {
          const inRow = rects.slice(row * columns, (row + 1) * columns);
          assert.equal(inRow.length, Math.min(columns, shown - row * columns), `${what}: row ${row}`);
          // Left to right, edge to edge, and the row centred (a last row that is not full too).
          inRow.forEach((r, column) => {
            if (column > 0) assert.equal(r.x, inRow[column - 1]!.x + tileWidth, `${what}: row ${row}`);
          });
          const leftMargin = inRow[0]!.x;
          const last = inRow[inRow.length - 1]!;
          const rightMargin = width - last.x - last.width;
          assert.ok(Math.abs(leftMargin - rightMargin) <= 2, `${what}: row ${row} is not centred`);
        }
        // The grid as a whole is centred and uses the canvas up to rounding.
        const top = ys[0]!;
        const bottom = height - ys[ys.length - 1]! - tileHeight;
        assert.ok(Math.abs(top - bottom) <= 2, `${what}: the grid is not centred vertically`);
        assert.ok(columns * tileWidth > width - 2 * columns, `${what}: tiles too narrow`);
        assert.ok(rows * tileHeight > height - 2 * rows, `${what}: tiles too low`);
      }
    });
  }

  test('one publisher fills the frame', () => {
    for (const [width, height] of canvases) {
      assert.deepEqual(layoutTiles('grid', 1, width, height), [{ x: 0, y: 0, width, height }]);
    }
  });

  test('two publishers are side by side, each half the width and the full height', () => {
    assert.deepEqual(layoutTiles('grid', 2, 1280, 720), [
      { x: 0, y: 0, width: 640, height: 720 },
      { x: 640, y: 0, width: 640, height: 720 },
    ]);
  });

  test('three publishers on 640×480: a 2×2 grid with the third centred in the second row', () => {
    assert.deepEqual(layoutTiles('grid', 3, 640, 480), [
      { x: 0, y: 0, width: 320, height: 240 },
      { x: 320, y: 0, width: 320, height: 240 },
      { x: 160, y: 240, width: 320, height: 240 },
    ]);
  });

  test('nine publishers on 1280×720: 3×3 with tiles of 426×240', () => {
    const rects = layoutTiles('grid', 9, 1280, 720);
    assert.deepEqual(
      rects.map((r) => [r.x, r.y, r.width, r.height]),
      [0, 240, 480].flatMap((y) => [0, 426, 852].map((x) => [x, y, 426, 240])),
    );
  });

  test('sixteen publishers and more on 640×480: 4×4 tiles of 160×120 covering the canvas', () => {
    for (const count of [16, 17, 20]) {
      const rects = layoutTiles('grid', count, 640, 480);
      assert.deepEqual(
        rects.map((r) => [r.x, r.y, r.width, r.height]),
        [0, 120, 240, 360].flatMap((y) => [0, 160, 320, 480].map((x) => [x, y, 160, 120])),
      );
    }
  });

  test('no publishers: no tiles, in every layout', () => {
    for (const type of ['grid', 'featured', 'pip'] as const) {
      assert.deepEqual(layoutTiles(type, 0, 640, 480), []);
    }
  });
});

describe('layoutTiles featured', () => {
  for (const [width, height] of canvases) {
    test(`${width}×${height}: the first publisher large on top, the others in a strip below it`, () => {
      for (const count of counts) {
        const what = `${count} on ${width}×${height}`;
        const rects = layoutTiles('featured', count, width, height);
        assert.equal(rects.length, Math.min(count, maxTiles), what);
        assertEvenAndInside(rects, width, height, what);
        assertNoOverlap(rects, what);
        const [main, ...strip] = rects;
        assert.ok(main !== undefined);
        if (count === 1) {
          assert.deepEqual(main, { x: 0, y: 0, width, height }, what);
          continue;
        }
        // The main tile spans the width from the top and takes about three quarters of the height.
        assert.equal(main.x, 0, what);
        assert.equal(main.y, 0, what);
        assert.equal(main.width, width, what);
        assert.ok(
          main.height >= (height * 3) / 4 && main.height <= (height * 3) / 4 + 2,
          `${what}: main height`,
        );
        for (const [index, tile] of strip.entries()) {
          const at = `${what}: strip tile ${index + 1} ${describeRect(tile)}`;
          assert.equal(tile.y, main.y + main.height, `${at} starts where the main tile ends`);
          assert.equal(tile.y + tile.height, height, `${at} reaches the bottom`);
          assert.ok(
            tile.width * tile.height < main.width * main.height,
            `${at} is smaller than the main tile`,
          );
          // At least three tile widths in the strip, so one or two others are not stretched.
          assert.ok(tile.width <= width / 3, `${at} is wider than a third`);
          if (index > 0) assert.ok(tile.x > strip[index - 1]!.x, `${at} is left to right`);
        }
        const first = strip[0]!;
        const last = strip[strip.length - 1]!;
        assert.ok(
          Math.abs(first.x - (width - last.x - last.width)) <= 2,
          `${what}: the strip is not centred`,
        );
      }
    });
  }

  test('three publishers on 1280×720: main 1280×540, two strip tiles of 426×180 centred', () => {
    assert.deepEqual(layoutTiles('featured', 3, 1280, 720), [
      { x: 0, y: 0, width: 1280, height: 540 },
      { x: 214, y: 540, width: 426, height: 180 },
      { x: 640, y: 540, width: 426, height: 180 },
    ]);
  });
});

describe('layoutTiles pip', () => {
  for (const [width, height] of canvases) {
    test(`${width}×${height}: the first full frame, at most one inset inside it at the bottom right`, () => {
      for (const count of counts) {
        const what = `${count} on ${width}×${height}`;
        const rects = layoutTiles('pip', count, width, height);
        assert.equal(rects.length, Math.min(count, 2), what);
        assertEvenAndInside(rects, width, height, what);
        const [full, inset] = rects;
        assert.deepEqual(full, { x: 0, y: 0, width, height }, what);
        if (inset === undefined) continue;
        assert.ok(contains(full, inset), `${what}: inset ${describeRect(inset)} outside the full frame`);
        assert.equal(inset.width, even(width / 4), `${what}: inset width`);
        assert.equal(inset.height, even(height / 4), `${what}: inset height`);
        assert.ok(inset.x >= width / 2 && inset.y >= height / 2, `${what}: inset not at the bottom right`);
        // The same margin from the right and from the bottom.
        assert.equal(width - inset.x - inset.width, height - inset.y - inset.height, `${what}: margins`);
      }
    });
  }

  test('two publishers on 1280×720: a 320×180 inset 22 px from the bottom right', () => {
    assert.deepEqual(layoutTiles('pip', 2, 1280, 720), [
      { x: 0, y: 0, width: 1280, height: 720 },
      { x: 938, y: 518, width: 320, height: 180 },
    ]);
  });
});

describe('fitInto', () => {
  const assertFits = (tile: Rect, width: number, height: number): void => {
    const fitted = fitInto(tile, width, height);
    const what = `${width}×${height} into ${describeRect(tile)}: ${describeRect(fitted)}`;
    assertEvenAndInside([fitted], Infinity, Infinity, what);
    assert.ok(contains(tile, fitted), `${what} is outside the tile`);
    const scale = Math.min(tile.width / width, tile.height / height);
    // Aspect kept within rounding to even sizes (and the smallest picture is 2×2).
    assert.ok(Math.abs(fitted.width - width * scale) <= 2, `${what}: width`);
    assert.ok(Math.abs(fitted.height - height * scale) <= 2, `${what}: height`);
    // It fills the tile in one direction and is centred in both.
    assert.ok(
      fitted.width >= tile.width - 2 || fitted.height >= tile.height - 2,
      `${what} fills neither way`,
    );
    const left = fitted.x - tile.x;
    const right = tile.x + tile.width - fitted.x - fitted.width;
    const top = fitted.y - tile.y;
    const bottom = tile.y + tile.height - fitted.y - fitted.height;
    assert.ok(Math.abs(left - right) <= 2, `${what} is not centred horizontally`);
    assert.ok(Math.abs(top - bottom) <= 2, `${what} is not centred vertically`);
  };

  const cases: [string, Rect, number, number, Rect][] = [
    [
      '16:9 into its own size',
      { x: 0, y: 0, width: 1280, height: 720 },
      1280,
      720,
      { x: 0, y: 0, width: 1280, height: 720 },
    ],
    [
      '16:9 into a half-width grid tile: letterboxed',
      { x: 640, y: 0, width: 640, height: 720 },
      1280,
      720,
      { x: 640, y: 180, width: 640, height: 360 },
    ],
    [
      '4:3 into a 16:9 tile: pillarboxed',
      { x: 0, y: 0, width: 1280, height: 720 },
      640,
      480,
      { x: 160, y: 0, width: 960, height: 720 },
    ],
    [
      'portrait into landscape',
      { x: 100, y: 40, width: 320, height: 180 },
      720,
      1280,
      { x: 210, y: 40, width: 100, height: 180 },
    ],
    [
      'a tiny picture enlarged',
      { x: 2, y: 2, width: 200, height: 100 },
      36,
      36,
      { x: 52, y: 2, width: 100, height: 100 },
    ],
  ];
  for (const [what, tile, width, height, expected] of cases) {
    test(`${what}: ${describeRect(expected)}`, () => {
      const before = { ...tile };
      assert.deepEqual(fitInto(tile, width, height), expected);
      assert.deepEqual(tile, before, 'the tile is not mutated');
      assertFits(tile, width, height);
    });
  }

  test('every layout tile of every canvas fits the canvas picture', () => {
    for (const [width, height] of canvases) {
      for (const type of ['grid', 'featured', 'pip'] as const) {
        for (const count of counts) {
          for (const tile of layoutTiles(type, count, width, height)) assertFits(tile, width, height);
        }
      }
    }
  });

  test('any even tile and any even picture size: inside, even, centred, aspect kept within rounding', () => {
    const evenSize = fc.integer({ min: 1, max: 2048 }).map((half) => half * 2);
    const evenOffset = fc.integer({ min: 0, max: 1000 }).map((half) => half * 2);
    fc.assert(
      fc.property(evenOffset, evenOffset, evenSize, evenSize, evenSize, evenSize, (x, y, tw, th, w, h) => {
        assertFits({ x, y, width: tw, height: th }, w, h);
      }),
      { seed: 20261125 },
    );
  });
});

describe('orderSources', () => {
  interface Source extends Orderable {
    name: string;
  }
  const source = (name: string, joinedAt: number, clientId?: string): Source => ({
    name,
    connectionId: `conn-${name}`,
    clientId,
    joinedAt,
  });
  // Listed out of join order on purpose.
  const sources: Source[] = [
    source('c', 30, 'client-c'),
    source('a', 10, 'client-a'),
    source('d', 40),
    source('b', 20, 'client-b'),
  ];
  const names = (list: readonly Source[]): string => list.map((s) => s.name).join('');

  const cases: [string, string[] | undefined, string][] = [
    ['no order: by join time', undefined, 'abcd'],
    ['an empty order: by join time', [], 'abcd'],
    ['by connection_id', ['conn-c', 'conn-a'], 'cabd'],
    ['by client_id', ['client-b', 'client-c'], 'bcad'],
    ['connection_id and client_id mixed', ['conn-d', 'client-c'], 'dcab'],
    ['unknown ids ignored', ['nobody', 'client-d', 'conn-c', 'conn-zz', 'client-b'], 'cbad'],
    ['only unknown ids: by join time', ['x', 'y'], 'abcd'],
    ['everyone named, reversed', ['conn-d', 'client-c', 'client-b', 'conn-a'], 'dcba'],
  ];
  for (const [what, order, expected] of cases) {
    test(`${what}: ${expected}`, () => {
      const before = structuredClone(sources);
      const ordered = orderSources(sources, order);
      assert.equal(names(ordered), expected);
      assert.deepEqual(sources, before, 'the input is not reordered');
      assert.notEqual(ordered, sources);
      for (const s of ordered) assert.ok(sources.includes(s), 'the same objects come back');
    });
  }

  test('two connections of one client_id both take its place, by join time', () => {
    const twice = [source('a', 10, 'client-a'), source('x2', 60, 'client-x'), source('x1', 50, 'client-x')];
    assert.equal(names(orderSources(twice, ['client-x'])), 'x1x2a');
  });

  test('any order list: a permutation, named sources first in the order they are named, the rest by join time', () => {
    const arbitrarySources = fc
      .uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 0, maxLength: 20 })
      .chain((joins) =>
        fc.tuple(
          fc.constant(joins),
          fc.array(fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }), {
            minLength: joins.length,
            maxLength: joins.length,
          }),
        ),
      )
      .map(([joins, clients]) =>
        joins.map((joinedAt, index) => source(String(index), joinedAt, clients[index]?.toString())),
      );
    const ids = fc.oneof(
      fc.integer({ min: 0, max: 25 }).map((n) => `conn-${n}`),
      fc.integer({ min: 0, max: 7 }).map((n) => String(n)),
    );
    fc.assert(
      fc.property(arbitrarySources, fc.uniqueArray(ids, { maxLength: 16 }), (list, order) => {
        const ordered = orderSources(list, order);
        assert.equal(ordered.length, list.length);
        assert.deepEqual(new Set(ordered), new Set(list));
        const rank = (s: Source): number => {
          const byConnection = order.indexOf(s.connectionId);
          if (byConnection >= 0) return byConnection;
          const byClient = s.clientId === undefined ? -1 : order.indexOf(s.clientId);
          return byClient >= 0 ? byClient : Infinity;
        };
        for (let i = 1; i < ordered.length; i++) {
          const previous = ordered[i - 1]!;
          const current = ordered[i]!;
          assert.ok(rank(previous) <= rank(current), 'named first, in order');
          if (rank(previous) === rank(current))
            assert.ok(previous.joinedAt < current.joinedAt, 'then by join');
        }
      }),
      { seed: 20261126 },
    );
  });
});
