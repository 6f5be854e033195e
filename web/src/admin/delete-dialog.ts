/**
 * The admin page's delete confirmation: a modal dialog naming the channel; Escape or Cancel keeps it, "Delete
 * channel" calls DeleteChannel and announces the outcome.
 */
import { ApiError, announce, api, explain, h } from '../common.ts';
import { shortId } from './channel.ts';

export interface DeleteDialogOptions {
  /** A channel was deleted (and announced). */
  onDeleted: (channelId: string) => void;
  /** The server refused the token (401), with its message. */
  onTokenRefused: (message: string) => void;
}

export class DeleteDialog {
  readonly dialog: HTMLDialogElement;
  readonly #text = h('p', { id: 'delete-text' });
  #deleting: string | undefined;

  constructor({ onDeleted, onTokenRefused }: DeleteDialogOptions) {
    const dialog = h(
      'dialog',
      { id: 'delete-dialog', 'aria-labelledby': 'delete-title', 'aria-describedby': 'delete-text' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'delete-title' }, 'Delete this channel?'),
        this.#text,
        h('button', { type: 'submit', value: 'cancel', className: 'secondary', autofocus: true }, 'Cancel'),
        h('button', { type: 'submit', value: 'delete', className: 'danger' }, 'Delete channel'),
      ),
    );
    this.dialog = dialog;
    dialog.addEventListener('close', () => {
      const channelId = this.#deleting;
      this.#deleting = undefined;
      if (dialog.returnValue !== 'delete' || channelId === undefined) return;
      void api('ImageFlux_20180501.DeleteChannel', { channel_id: channelId }).then(
        () => {
          announce(`Deleted channel ${shortId(channelId)}.`);
          onDeleted(channelId);
        },
        (error: unknown) => {
          if (error instanceof ApiError && error.status === 401) onTokenRefused(explain(error));
          else announce(`Channel ${shortId(channelId)} was not deleted: ${explain(error)}`, 'error');
        },
      );
    });
  }

  /** Ask whether to delete the channel. */
  confirm(channelId: string): void {
    this.#deleting = channelId;
    this.#text.textContent =
      `Channel ${shortId(channelId)} is deleted for good: its broadcasters are disconnected, its playlist ends, ` +
      'and it cannot be used again.';
    this.dialog.returnValue = '';
    this.dialog.showModal();
  }
}
