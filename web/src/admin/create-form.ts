/**
 * The admin page's "Create a channel" card: one fieldset per variant (add up to 8, remove down to 1), the segment
 * duration, and CreateChannel with what was typed. The server validates it: its message is shown beside the form
 * and the field it names is marked invalid and focused.
 */
import { ApiError, announce, api, explain, h } from '../common.ts';
import { type Variant, shortId } from './channel.ts';

const maxVariants = 8;
const h264Profiles = ['h264_high', 'h264_main', 'h264_baseline'] as const;

interface VariantRow {
  fieldset: HTMLFieldSetElement;
  remove: HTMLButtonElement;
  inputs: Record<
    'width' | 'height' | 'fps' | 'bps' | 'codec' | 'audio',
    HTMLInputElement | HTMLSelectElement
  >;
}

export interface CreateFormOptions {
  /** A channel was created (and announced). */
  onCreated: (channelId: string) => void;
  /** The server refused the token (401), with its message. */
  onTokenRefused: (message: string) => void;
}

/** A labelled field of a variant row. */
function labelled(label: string, control: HTMLInputElement | HTMLSelectElement): HTMLElement {
  return h('div', {}, h('label', { htmlFor: control.id }, label), control);
}

/** A number field as typed; an empty (or unreadable) one is left out, so the server names it as required. */
const numberIn = (input: HTMLInputElement | HTMLSelectElement): number | undefined =>
  input.value.trim() === '' ? undefined : Number(input.value);

export class CreateForm {
  readonly section: HTMLElement;
  readonly #variantRows: VariantRow[] = [];
  readonly #variantList = h('div', { className: 'variants' });
  readonly #addVariantButton = h('button', { type: 'button', className: 'secondary' }, 'Add a variant');
  readonly #segmentInput = h('input', {
    id: 'segment-duration',
    type: 'number',
    value: '2',
    inputMode: 'numeric',
  });
  readonly #createError = h('p', { className: 'form-error', id: 'create-error', role: 'alert' });
  readonly #form: HTMLFormElement;
  readonly #options: CreateFormOptions;
  #nextRowId = 0;

  /** The form starts with one 1280×720 variant. */
  constructor(options: CreateFormOptions) {
    this.#options = options;
    this.#form = h(
      'form',
      { id: 'create-form', noValidate: true, 'aria-describedby': 'create-error' },
      this.#variantList,
      this.#addVariantButton,
      h('label', { htmlFor: 'segment-duration' }, 'Segment duration (seconds, 1 to 10)'),
      this.#segmentInput,
      this.#createError,
      h('button', { type: 'submit' }, 'Create channel'),
    );
    this.section = h(
      'section',
      { className: 'card', 'aria-labelledby': 'create-title', hidden: true },
      h('h2', { id: 'create-title' }, 'Create a channel'),
      h(
        'p',
        { className: 'hint' },
        'Each variant is one rendition of the playlist. The server checks the values and says what it refuses.',
      ),
      this.#form,
    );
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit();
    });
    this.#addVariantButton.addEventListener('click', () => {
      this.#addVariant({
        video: { width: 640, height: 360, fps: 30, bps: 800_000, codec: 'h264_main' },
        audio: { bps: 64_000 },
      });
      this.#variantRows.at(-1)?.inputs.width.focus();
    });
    this.#addVariant({
      video: { width: 1280, height: 720, fps: 30, bps: 2_500_000, codec: 'h264_high' },
      audio: { bps: 128_000 },
    });
  }

  #submit(): void {
    const createError = this.#createError;
    createError.textContent = '';
    void api<{ channel_id: string }>('ImageFlux_20180905.CreateChannel', this.#body()).then(
      ({ channel_id }) => {
        this.#markInvalid('');
        announce(`Created channel ${shortId(channel_id)}.`);
        this.#options.onCreated(channel_id);
      },
      (error: unknown) => {
        if (error instanceof ApiError && error.status === 401) {
          this.#options.onTokenRefused(explain(error));
          return;
        }
        createError.textContent = `Not created: ${explain(error)}`;
        this.#markInvalid(createError.textContent);
      },
    );
  }

  #addVariant(values: Variant): void {
    const rowId = this.#nextRowId++;
    const number = (key: string, value: number): HTMLInputElement =>
      h('input', { id: `v${rowId}-${key}`, type: 'number', inputMode: 'numeric', value: String(value) });
    const inputs: VariantRow['inputs'] = {
      width: number('width', values.video.width),
      height: number('height', values.video.height),
      fps: number('fps', values.video.fps),
      bps: number('bps', values.video.bps),
      codec: h(
        'select',
        { id: `v${rowId}-codec` },
        ...h264Profiles.map((profile) =>
          h('option', { value: profile, selected: profile === values.video.codec }, profile),
        ),
      ),
      audio: number('audio', values.audio.bps),
    };
    const remove = h('button', { type: 'button', className: 'secondary' }, 'Remove');
    const fieldset = h(
      'fieldset',
      { className: 'variant' },
      h('legend', {}),
      h(
        'div',
        { className: 'variant-fields' },
        labelled('Width', inputs.width),
        labelled('Height', inputs.height),
        labelled('Frame rate (fps)', inputs.fps),
        labelled('Video bit rate (bps)', inputs.bps),
        labelled('H.264 profile', inputs.codec),
        labelled('Audio bit rate (bps)', inputs.audio),
      ),
      remove,
    );
    const row: VariantRow = { fieldset, inputs, remove };
    const variantRows = this.#variantRows;
    remove.addEventListener('click', () => {
      const index = variantRows.indexOf(row);
      variantRows.splice(index, 1);
      fieldset.remove();
      this.#numberVariants();
      (variantRows[Math.min(index, variantRows.length - 1)]?.inputs.width ?? this.#addVariantButton).focus();
    });
    variantRows.push(row);
    this.#variantList.append(fieldset);
    this.#numberVariants();
  }

  #numberVariants(): void {
    const variantRows = this.#variantRows;
    for (const [index, row] of variantRows.entries()) {
      const legend = row.fieldset.querySelector('legend');
      if (legend !== null) legend.textContent = `Variant ${index + 1}`;
      row.remove.disabled = variantRows.length === 1;
      row.remove.setAttribute('aria-label', `Remove variant ${index + 1}`);
    }
    this.#addVariantButton.disabled = variantRows.length >= maxVariants;
  }

  #body(): unknown {
    const durationSeconds = numberIn(this.#segmentInput);
    return {
      hls: this.#variantRows.map(({ inputs }) => ({
        video: {
          width: numberIn(inputs.width),
          height: numberIn(inputs.height),
          fps: numberIn(inputs.fps),
          bps: numberIn(inputs.bps),
          codec: inputs.codec.value,
        },
        audio: { bps: numberIn(inputs.audio) },
        ...(durationSeconds === undefined ? {} : { durationSeconds }),
      })),
    };
  }

  /** The field a validation message names (`hls[1].video.width must be …`), marked invalid and focused. */
  #markInvalid(message: string): void {
    for (const element of this.#form.querySelectorAll('[aria-invalid]'))
      element.removeAttribute('aria-invalid');
    const match =
      /hls\[(\d+)\]\.(?:(video)\.(width|height|fps|bps|codec)|(audio)\.bps|(durationSeconds))/.exec(message);
    if (match === null) return;
    const row = this.#variantRows[Number(match[1])];
    const key = (match[4] !== undefined ? 'audio' : match[3]) as keyof VariantRow['inputs'] | undefined;
    const target =
      match[5] !== undefined ? this.#segmentInput : key === undefined ? undefined : row?.inputs[key];
    if (target === undefined) return;
    target.setAttribute('aria-invalid', 'true');
    target.focus();
  }
}
