/**
 * The admin page's Channels card: a table with a row per channel in the server's order, updated in place so focus
 * and an open dialog survive a refresh, the time of the last update, and the "Use another token" button.
 */
import { h } from '../common.ts';
import type { Channel, Connection } from './channel.ts';
import { ChannelRow } from './channel-row.ts';

export interface ChannelTableOptions {
  /** A row's Delete button was pressed. */
  onDelete: (channelId: string) => void;
  /** "Use another token" was pressed. */
  onOtherToken: () => void;
}

export class ChannelTable {
  readonly section: HTMLElement;
  readonly #heading = h('h2', { id: 'channels-title', tabIndex: -1 }, 'Channels');
  readonly #updatedText = h('p', { className: 'hint', id: 'updated' });
  readonly #tableBody = h('tbody', {});
  readonly #emptyRow = h('tr', {}, h('td', { colSpan: 6 }, 'No channels yet: create one below.'));
  readonly #rows = new Map<string, ChannelRow>();
  readonly #onDelete: (channelId: string) => void;

  constructor({ onDelete, onOtherToken }: ChannelTableOptions) {
    this.#onDelete = onDelete;
    const otherTokenButton = h('button', { type: 'button', className: 'secondary' }, 'Use another token');
    this.section = h(
      'section',
      { className: 'card', 'aria-labelledby': 'channels-title', hidden: true },
      this.#heading,
      this.#updatedText,
      h(
        'div',
        { className: 'table-wrap' },
        h(
          'table',
          { className: 'channels', id: 'channels' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Channel', 'State', 'Publishers', 'Variants', 'Audience', 'Actions'].map((name) =>
                h('th', { scope: 'col' }, name),
              ),
            ),
          ),
          this.#tableBody,
        ),
      ),
      otherTokenButton,
    );
    otherTokenButton.addEventListener('click', () => {
      onOtherToken();
    });
  }

  /** The channels as described (one that was deleted meanwhile is `undefined`), in the server's order. */
  show(described: ([Channel, Connection[]] | undefined)[]): void {
    const rows = this.#rows;
    const nowMs = performance.now();
    const shown: ChannelRow[] = [];
    for (const entry of described) {
      if (entry === undefined) continue;
      const [channel, publishers] = entry;
      let row = rows.get(channel.channel_id);
      if (row === undefined) {
        row = new ChannelRow(channel.channel_id, this.#onDelete);
        rows.set(channel.channel_id, row);
      }
      row.update(channel, publishers, nowMs);
      shown.push(row);
    }
    const kept = new Set(shown);
    for (const [id, row] of rows) {
      if (kept.has(row)) continue;
      if (row.tr.contains(document.activeElement)) this.#heading.focus();
      row.tr.remove();
      rows.delete(id);
    }
    if (shown.length === 0) {
      this.#tableBody.replaceChildren(this.#emptyRow);
    } else {
      this.#emptyRow.remove();
      // In the server's order. A row already in its place is not touched: moving it would take the focus away.
      for (const [index, row] of shown.entries()) {
        const there = this.#tableBody.children[index] ?? null;
        if (there !== row.tr) this.#tableBody.insertBefore(row.tr, there);
      }
    }
    this.#updatedText.textContent = `${rows.size} channel${rows.size === 1 ? '' : 's'}, updated ${new Date().toLocaleTimeString()}`;
  }

  /** Every row goes (the token was refused); the next `show` builds them anew. */
  clear(): void {
    for (const row of this.#rows.values()) row.tr.remove();
    this.#rows.clear();
  }
}
