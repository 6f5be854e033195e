// The clock of the glass-to-glass benchmark (bench/glass-to-glass.ts): Date.now() modulo 2^24 ms (4.6 hours) in
// Gray code, so that one millisecond more changes one block, drawn as 24 blocks, most significant first, white for
// 1 and black for 0, with the complement in a second row below, so a reader can tell a clean frame from one caught
// between two values or blurred by the encoder.

/** Geometry on the 640×480 canvas the publisher draws. */
export const clockPattern = {
  width: 640,
  height: 480,
  bits: 24,
  x: 32,
  blockWidth: 24,
  rowY: [140, 260],
  rowHeight: 80,
};
export const clockModulus = 2 ** clockPattern.bits;

/** Draws `value` (0 … 2^24 − 1) on grey. */
export function drawClock(g, value) {
  const { width, height, bits, x, blockWidth, rowY, rowHeight } = clockPattern;
  const gray = value ^ (value >> 1);
  g.fillStyle = '#808080';
  g.fillRect(0, 0, width, height);
  for (let i = 0; i < bits; i++) {
    const one = ((gray >> (bits - 1 - i)) & 1) === 1;
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
  let gray = 0;
  for (let i = 0; i < bits; i++) {
    const at = Math.round((x + (i + 0.5) * blockWidth) * scaleX);
    const top = luma(rows[0], at);
    const bottom = luma(rows[1], at);
    // A clean bit is white over black or black over white; anything else is a frame caught between values.
    if (Math.abs(top - bottom) < 64) return null;
    gray = (gray << 1) | (top > bottom ? 1 : 0);
  }
  let value = gray;
  for (let shift = gray >> 1; shift !== 0; shift >>= 1) value ^= shift;
  return value;
}
