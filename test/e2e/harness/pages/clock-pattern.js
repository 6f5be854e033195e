// The clock of the glass-to-glass benchmark (bench/glass-to-glass.ts): Date.now() modulo 2^32 drawn as 32
// blocks, most significant first, white for 1 and black for 0, with the complement in a second row below, so a
// reader can tell a clean frame from one caught between two values or blurred by the encoder.

/** Geometry on the 640×480 canvas the publisher draws. */
export const clockPattern = {
  width: 640,
  height: 480,
  bits: 32,
  x: 64,
  blockWidth: 16,
  rowY: [200, 280],
  rowHeight: 60,
};

/** Draws `value` (0 … 2^32 − 1) on grey. */
export function drawClock(g, value) {
  const { width, height, bits, x, blockWidth, rowY, rowHeight } = clockPattern;
  g.fillStyle = '#808080';
  g.fillRect(0, 0, width, height);
  for (let i = 0; i < bits; i++) {
    const one = Math.floor(value / 2 ** (bits - 1 - i)) % 2 === 1;
    g.fillStyle = one ? '#ffffff' : '#000000';
    g.fillRect(x + i * blockWidth, rowY[0], blockWidth, rowHeight);
    g.fillStyle = one ? '#000000' : '#ffffff';
    g.fillRect(x + i * blockWidth, rowY[1], blockWidth, rowHeight);
  }
}

const luma = (data, x) => 0.299 * data[x * 4] + 0.587 * data[x * 4 + 1] + 0.114 * data[x * 4 + 2];

/** The value in the picture `context` holds (`width`×`height`, any scale of the canvas), or null if unreadable. */
export function readClock(context, width, height) {
  const { bits, x, blockWidth, rowY, rowHeight } = clockPattern;
  const scaleX = width / clockPattern.width;
  const scaleY = height / clockPattern.height;
  const rows = rowY.map(
    (y) => context.getImageData(0, Math.round((y + rowHeight / 2) * scaleY), width, 1).data,
  );
  let value = 0;
  for (let i = 0; i < bits; i++) {
    const at = Math.round((x + (i + 0.5) * blockWidth) * scaleX);
    const top = luma(rows[0], at);
    const bottom = luma(rows[1], at);
    // A clean bit is white over black or black over white; anything else is a frame caught between values.
    if (Math.abs(top - bottom) < 100) return null;
    value = value * 2 + (top > bottom ? 1 : 0);
  }
  return value;
}
