// Loaded into a viewer page by bench/glass-to-glass.ts: reads the publisher's clock from every frame a <video>
// presents and records Date.now() − drawn in window.glassToGlass.
import { clockModulus, readClock } from '/clock-pattern.js';

window.glassToGlass = { latenciesMs: [], unreadable: 0 };

window.startClockReader = (selector) => {
  const state = window.glassToGlass;
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const attach = () => {
    const video = document.querySelector(selector);
    if (video === null || video.videoWidth === 0) {
      setTimeout(attach, 100);
      return;
    }
    const onFrame = () => {
      const { videoWidth: width, videoHeight: height } = video;
      if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
      context.drawImage(video, 0, 0, width, height);
      const drawn = readClock(context, width, height);
      const now = Date.now() % clockModulus;
      if (drawn === null) state.unreadable += 1;
      else state.latenciesMs.push((now - drawn + clockModulus) % clockModulus);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  attach();
};
