/**
 * The broadcast page's "Camera and microphone" card: the preview, the camera, microphone and video codec choices
 * (filled with the devices' labels once the page may use them) and a retry when the camera was refused.
 */
import { announce, explain, h } from '../common.ts';

export type VideoCodec = 'H264' | 'VP8' | 'VP9';

export class MediaCard {
  readonly section: HTMLElement;
  readonly #cameraSelect = h('select', { id: 'camera' });
  readonly #microphoneSelect = h('select', { id: 'microphone' });
  readonly #codecSelect = h(
    'select',
    { id: 'codec' },
    h('option', { value: 'H264' }, 'H.264 (default)'),
    h('option', { value: 'VP8' }, 'VP8'),
    h('option', { value: 'VP9' }, 'VP9'),
  );
  readonly #preview = h('video', {
    id: 'preview',
    muted: true,
    autoplay: true,
    playsInline: true,
    'aria-label': 'Camera preview',
  });
  readonly #retryMedia = h(
    'button',
    { type: 'button', id: 'retry-media', className: 'secondary', hidden: true },
    'Try the camera again',
  );
  readonly #updateControls: () => void;
  #stream: MediaStream | undefined;

  /** `updateControls` runs once the camera and microphone were opened, or could not be. */
  constructor(updateControls: () => void) {
    this.#updateControls = updateControls;
    this.section = h(
      'section',
      { className: 'card', 'aria-labelledby': 'media-heading' },
      h('h2', { id: 'media-heading' }, 'Camera and microphone'),
      this.#preview,
      this.#retryMedia,
      h('label', { htmlFor: 'camera' }, 'Camera'),
      this.#cameraSelect,
      h('label', { htmlFor: 'microphone' }, 'Microphone'),
      this.#microphoneSelect,
      h('label', { htmlFor: 'codec' }, 'Video codec'),
      this.#codecSelect,
      h('p', { className: 'hint' }, 'Devices and codec can be changed while not live.'),
    );
    this.#cameraSelect.addEventListener('change', () => void this.open());
    this.#microphoneSelect.addEventListener('change', () => void this.open());
    this.#retryMedia.addEventListener('click', () => void this.open());
  }

  /** What the camera and microphone give, once opened. */
  get stream(): MediaStream | undefined {
    return this.#stream;
  }

  get codec(): VideoCodec {
    return this.#codecSelect.value as VideoCodec;
  }

  /** Devices and codec cannot be changed while live. */
  setDisabled(isDisabled: boolean): void {
    for (const control of [this.#cameraSelect, this.#microphoneSelect, this.#codecSelect]) {
      control.disabled = isDisabled;
    }
  }

  /** Open the chosen camera and microphone (any, the first time), in place of those open. */
  async open(): Promise<void> {
    const video: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 } };
    if (this.#cameraSelect.value !== '') video.deviceId = { exact: this.#cameraSelect.value };
    const audio: MediaTrackConstraints | boolean =
      this.#microphoneSelect.value === '' ? true : { deviceId: { exact: this.#microphoneSelect.value } };
    try {
      const next = await navigator.mediaDevices.getUserMedia({ audio, video });
      for (const track of this.#stream?.getTracks() ?? []) track.stop();
      this.#stream = next;
      this.#preview.srcObject = next;
      this.#retryMedia.hidden = true;
      await this.#fillDevices(next);
    } catch (error) {
      this.#stream = undefined;
      this.#preview.srcObject = null;
      this.#retryMedia.hidden = false;
      announce(explain(error), 'error');
    }
    this.#updateControls();
  }

  /** Device labels are only given once the page may use the devices: after the first getUserMedia. */
  async #fillDevices(current: MediaStream): Promise<void> {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select: HTMLSelectElement, kind: MediaDeviceKind, track: MediaStreamTrack | undefined) => {
      const name = kind === 'videoinput' ? 'Camera' : 'Microphone';
      const inUse = track?.getSettings().deviceId;
      select.replaceChildren(
        ...devices
          .filter((device) => device.kind === kind && device.deviceId !== '')
          .map((device, index) =>
            h(
              'option',
              { value: device.deviceId, selected: device.deviceId === inUse },
              device.label === '' ? `${name} ${index + 1}` : device.label,
            ),
          ),
      );
    };
    fill(this.#cameraSelect, 'videoinput', current.getVideoTracks()[0]);
    fill(this.#microphoneSelect, 'audioinput', current.getAudioTracks()[0]);
  }
}
