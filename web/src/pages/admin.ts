/**
 * `/admin`: the channels of the API token, refreshed every 2 s (state, variants, publishers, and viewers, bit
 * rates and live-edge latency when the server reports its traffic), with links to broadcast to and watch each;
 * a form to create a channel (the server validates it and its message is shown beside the form) and a delete
 * that asks first. A refused token brings the token form back. The parts live in web/src/admin/; this wires them.
 */
import { ChannelRefresher } from '../admin/channel-refresher.ts';
import { ChannelTable } from '../admin/channel-table.ts';
import { CreateForm } from '../admin/create-form.ts';
import { DeleteDialog } from '../admin/delete-dialog.ts';
import { announce, byId, requireToken } from '../common.ts';

const app = byId('app');

const table = new ChannelTable({
  onDelete: (channelId) => {
    deleteDialog.confirm(channelId);
  },
  onOtherToken: () => {
    tokenRefused('Enter the API token to use.', 'info');
  },
});
const refresher = new ChannelRefresher({
  show: (described) => {
    table.show(described);
  },
  onTokenRefused: (message) => {
    tokenRefused(message);
  },
});
const createForm = new CreateForm({
  onCreated: () => {
    refresher.now();
  },
  onTokenRefused: (message) => {
    tokenRefused(message);
  },
});
const deleteDialog = new DeleteDialog({
  onDeleted: () => {
    refresher.now();
  },
  onTokenRefused: (message) => {
    tokenRefused(message);
  },
});

// ---- The token: asked for when none is kept, and again when the server refuses it.

const sections = [table.section, createForm.section];
const token = requireToken(app, () => {
  announce('');
  for (const section of sections) section.hidden = false;
  refresher.now();
});
app.append(...sections, deleteDialog.dialog);

function tokenRefused(message: string, kind: 'info' | 'error' = 'error'): void {
  refresher.stop();
  for (const section of sections) section.hidden = true;
  table.clear();
  token.refused();
  announce(message, kind);
}
