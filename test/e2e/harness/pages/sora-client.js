// The browser half of the Sora e2e client: the unmodified sora-js-sdk driven from Node through page.evaluate.
// Node-side types for everything exposed on window are in ../sora-page.ts; keep the two in step.
import Sora from '/sora.js';
import { clockModulus, drawClock } from '/clock-pattern.js';

/** Every callback of the connection, in order. Plain JSON so page.evaluate can hand it to Node. */
const log = [];
const record = (event, fields) => log.push({ event, atMs: Date.now(), ...fields });

let conn = null;
let source = null; // { stream, stop() } of the local media while connected
let dropPongs = false;
/** stream id → kinds seen in `track` and not yet removed; the fallback when the SDK has no remoteConnectionIds. */
const remoteKinds = new Map();

// Simulates a client that stops answering pings. The SDK sends `{"type":"pong"}` (plus `stats` when asked) with
// ws.send, so patching the prototype at load time catches its socket whenever it is opened.
const originalSend = WebSocket.prototype.send;
WebSocket.prototype.send = function send(data) {
  if (dropPongs && typeof data === 'string' && isPong(data)) {
    record('pong-dropped', {});
    return;
  }
  originalSend.call(this, data);
};

function isPong(text) {
  try {
    return JSON.parse(text).type === 'pong';
  } catch {
    return false;
  }
}

/**
 * A canvas filled with `color` plus a small moving square (so the encoder has changes to send) and a tone. With
 * `flashEveryMs`, a sync source instead: the picture turns white and the tone sounds together for `flashMs` at
 * the start of every period, both timed from the AudioContext's clock, and are `color` and silence otherwise.
 */
function syntheticSource({ color = '#ff0000', toneHz = 440, flashEveryMs, flashMs = 200 }) {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 480;
  const g = canvas.getContext('2d');
  const audioContext = new AudioContext({ sampleRate: 48000 });
  const flashing = flashEveryMs !== undefined;
  let frame = 0;
  const inFlash = () => (audioContext.currentTime * 1000) % flashEveryMs < flashMs;
  const draw = () => {
    g.fillStyle = flashing && inFlash() ? '#ffffff' : color;
    g.fillRect(0, 0, 640, 480);
    // The mover stays in the top 16 rows so the rest of the picture is exactly `color`.
    g.fillStyle = '#ffffff';
    g.fillRect((frame * 8) % 624, 0, 16, 16);
    frame += 1;
  };
  draw();
  // setInterval rather than requestAnimationFrame: rAF stops when the page is not rendered. A sync source draws
  // at 100 Hz so a flash starts within 10 ms of its sound.
  const timer = setInterval(draw, flashing ? 10 : 1000 / 30);
  const oscillator = new OscillatorNode(audioContext, { frequency: toneHz });
  const gain = new GainNode(audioContext, { gain: flashing ? 0 : 0.5 });
  const destination = new MediaStreamAudioDestinationNode(audioContext, { channelCount: 1 });
  oscillator.connect(gain).connect(destination);
  oscillator.start();
  let scheduler = null;
  if (flashing) {
    // Gate the tone on the same clock as the picture, scheduled a few periods ahead.
    let next = Math.ceil((audioContext.currentTime * 1000) / flashEveryMs) * flashEveryMs;
    const schedule = () => {
      while (next < audioContext.currentTime * 1000 + 3 * flashEveryMs) {
        gain.gain.setValueAtTime(0.5, next / 1000);
        gain.gain.setValueAtTime(0, (next + flashMs) / 1000);
        next += flashEveryMs;
      }
    };
    schedule();
    scheduler = setInterval(schedule, flashEveryMs);
  }
  const stream = new MediaStream([
    ...canvas.captureStream(30).getVideoTracks(),
    ...destination.stream.getAudioTracks(),
  ]);
  const stop = () => {
    clearInterval(timer);
    if (scheduler !== null) clearInterval(scheduler);
    for (const track of stream.getTracks()) track.stop();
    oscillator.stop();
    void audioContext.close();
  };
  return { stream, stop };
}

/** Date.now() drawn every 5 ms (see clock-pattern.js) and a quiet tone: the glass-to-glass benchmark's source. */
function clockSource() {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 480;
  const g = canvas.getContext('2d');
  const draw = () => drawClock(g, Date.now() % clockModulus);
  draw();
  const timer = setInterval(draw, 5);
  const audioContext = new AudioContext({ sampleRate: 48000 });
  const oscillator = new OscillatorNode(audioContext, { frequency: 440 });
  const gain = new GainNode(audioContext, { gain: 0.2 });
  const destination = new MediaStreamAudioDestinationNode(audioContext, { channelCount: 1 });
  oscillator.connect(gain).connect(destination);
  oscillator.start();
  const stream = new MediaStream([
    ...canvas.captureStream(30).getVideoTracks(),
    ...destination.stream.getAudioTracks(),
  ]);
  const stop = () => {
    clearInterval(timer);
    for (const track of stream.getTracks()) track.stop();
    oscillator.stop();
    void audioContext.close();
  };
  return { stream, stop };
}

async function openSource(spec) {
  if (spec === undefined || spec === 'camera') {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: 640, height: 480 },
    });
    return { stream, stop: () => stream.getTracks().forEach((track) => track.stop()) };
  }
  if (spec === 'clock') return clockSource();
  return syntheticSource(spec);
}

function remoteVideos() {
  return document.getElementById('remote-videos');
}

function attachRemote(stream) {
  if (remoteVideos().querySelector(`video[data-stream-id="${CSS.escape(stream.id)}"]`)) return;
  const video = document.createElement('video');
  Object.assign(video, { muted: true, autoplay: true, playsInline: true, srcObject: stream });
  video.dataset.streamId = stream.id;
  remoteVideos().append(video);
}

function onTrack(event) {
  const stream = event.streams[0];
  const streamId = stream ? stream.id : null;
  record('track', { streamId, kind: event.track.kind });
  if (!stream) return;
  const kinds = remoteKinds.get(stream.id) ?? new Set();
  kinds.add(event.track.kind);
  remoteKinds.set(stream.id, kinds);
  attachRemote(stream);
}

function onRemoveTrack(event) {
  const stream = event.target;
  record('removetrack', { streamId: stream ? stream.id : null, kind: event.track.kind });
  if (!stream) return;
  remoteKinds.get(stream.id)?.delete(event.track.kind);
  if (stream.getTracks().length === 0) {
    remoteKinds.delete(stream.id);
    remoteVideos()
      .querySelector(`video[data-stream-id="${CSS.escape(stream.id)}"]`)
      ?.remove();
  }
}

/** Forgets the connection (its stats and remote streams go with it) and stops the local media. */
function endSession() {
  conn = null;
  source?.stop();
  source = null;
  remoteKinds.clear();
  remoteVideos().replaceChildren();
}

function describeError(error) {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, code: e.code ?? null, reason: e.reason ?? null };
}

window.soraVersion = Sora.version();
window.soraLog = log;

window.soraConnect = async ({ signalingUrl, channelId, role, metadata, options, source: spec, debug }) => {
  if (conn !== null) return { error: describeError(new Error('already connected on this page')) };
  try {
    if (role !== 'recvonly') source = await openSource(spec);
    const c = Sora.connection(signalingUrl, debug === true)[role](channelId, metadata, options ?? {});
    conn = c;
    c.on('notify', (message, transport) => record('notify', { message, transport }));
    c.on('push', (message, transport) => record('push', { message, transport }));
    c.on('track', onTrack);
    c.on('removetrack', onRemoveTrack);
    c.on('timeout', () => record('timeout', {}));
    c.on('connected', () => record('connected', {}));
    c.on('disconnect', (event) => {
      const { type, title, code, reason } = event;
      record('disconnect', { type, title, code: code ?? null, reason: reason ?? null });
      if (conn === c) endSession();
    });
    await c.connect(source?.stream);
    return { connectionId: c.connectionId };
  } catch (error) {
    endSession();
    return { error: describeError(error) };
  }
};

window.soraDisconnect = async () => {
  const current = conn;
  if (current === null) return;
  await current.disconnect();
  if (conn === current) endSession();
};

/** The SDP both sides agreed on last, for diagnostics. */
window.soraDescriptions = () => ({
  remote: conn?.pc?.remoteDescription?.sdp ?? null,
  local: conn?.pc?.localDescription?.sdp ?? null,
});

window.soraDropPongs = (on) => {
  dropPongs = on;
};

/** Stops (or resumes) sending media while the connection stays up, as a network outage looks to the server. */
const pausedTracks = new Map();
window.soraPauseSending = async (on) => {
  const senders = conn?.pc?.getSenders() ?? [];
  for (const sender of senders) {
    if (on && sender.track !== null) {
      pausedTracks.set(sender, sender.track);
      await sender.replaceTrack(null);
    } else if (!on && pausedTracks.has(sender)) {
      await sender.replaceTrack(pausedTracks.get(sender));
      pausedTracks.delete(sender);
    }
  }
  return senders.length;
};

window.soraRemoteStreamIds = () => {
  if (conn?.remoteConnectionIds) return [...conn.remoteConnectionIds];
  return [...remoteKinds].filter(([, kinds]) => kinds.size > 0).map(([id]) => id);
};

async function rtpStats(type, pick) {
  const pc = conn?.pc;
  if (!pc) return [];
  const report = await pc.getStats();
  const rows = [];
  for (const stats of report.values()) {
    if (stats.type !== type || (stats.kind !== 'audio' && stats.kind !== 'video')) continue;
    const codec = stats.codecId ? report.get(stats.codecId) : undefined;
    rows.push({ kind: stats.kind, codecMimeType: codec?.mimeType ?? null, ...pick(stats) });
  }
  return rows;
}

window.soraInboundStats = () =>
  rtpStats('inbound-rtp', (s) => ({
    bytesReceived: s.bytesReceived ?? 0,
    packetsReceived: s.packetsReceived ?? 0,
    framesDecoded: s.framesDecoded ?? null,
    frameWidth: s.frameWidth ?? null,
    frameHeight: s.frameHeight ?? null,
    trackIdentifier: s.trackIdentifier ?? null,
    packetsLost: s.packetsLost ?? 0,
    nackCount: s.nackCount ?? 0,
    pliCount: s.pliCount ?? 0,
  }));

window.soraOutboundStats = () =>
  rtpStats('outbound-rtp', (s) => ({
    bytesSent: s.bytesSent ?? 0,
    packetsSent: s.packetsSent ?? 0,
    framesEncoded: s.framesEncoded ?? null,
  }));

/** Everything a test polls on, in one round trip. */
window.soraSnapshot = async () => ({
  log: [...log],
  remoteStreamIds: window.soraRemoteStreamIds(),
  inbound: await window.soraInboundStats(),
  outbound: await window.soraOutboundStats(),
});

/** RMS of the first audio track over one 2048-sample window (0 when there is no audio track). */
async function measureRms(stream) {
  if (stream.getAudioTracks().length === 0) return 0;
  const context = new AudioContext();
  try {
    const analyser = new AnalyserNode(context, { fftSize: 2048 });
    context.createMediaStreamSource(stream).connect(analyser);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    return Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
  } finally {
    await context.close();
  }
}

/** Opens a source without connecting, plays it into a <video> until 3 frames arrive, reports, and stops it. */
window.soraTestSource = async (spec) => {
  const { stream, stop } = await openSource(spec);
  try {
    const video = document.createElement('video');
    Object.assign(video, { muted: true, autoplay: true, playsInline: true, srcObject: stream });
    document.body.append(video);
    let framesSeen = 0;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${framesSeen} frames in 5 s`)), 5000);
      const onFrame = () => {
        framesSeen += 1;
        if (framesSeen >= 3) {
          clearTimeout(timer);
          resolve();
        } else video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    });
    const describe = (track) => ({
      kind: track.kind,
      readyState: track.readyState,
      enabled: track.enabled,
      muted: track.muted,
      settings: track.getSettings(),
    });
    const result = {
      tracks: stream.getTracks().map(describe),
      rendered: { width: video.videoWidth, height: video.videoHeight, framesSeen },
      audioRms: await measureRms(stream),
    };
    video.remove();
    return result;
  } finally {
    stop();
  }
};

window.soraReady = true;
