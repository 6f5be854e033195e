/**
 * What every page shares: the channel API over fetch, the API token kept in this browser, a tiny element builder,
 * an announced status line, copy buttons and number formatting.
 */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const tokenKey = 'nagare.apiToken';

export function storedToken(): string | undefined {
  return localStorage.getItem(tokenKey) ?? undefined;
}

export function storeToken(token: string): void {
  localStorage.setItem(tokenKey, token);
}

export function forgetToken(): void {
  localStorage.removeItem(tokenKey);
}

/** One API action (`POST /` with `X-Sora-Target`); a non-2xx answer throws ApiError with the server's message. */
export async function api<T>(action: string, body: unknown, token = storedToken()): Promise<T> {
  if (token === undefined) throw new ApiError(401, 'Unauthorized', 'an API token is needed');
  const response = await fetch('/', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${token}`,
      'X-Sora-Target': action,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(
      response.status,
      'BadAnswer',
      `the server answered ${response.status}: ${text.slice(0, 200)}`,
    );
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(response.status, error?.code ?? 'Error', error?.message ?? `HTTP ${response.status}`);
  }
  return parsed as T;
}

/** What a person should read for an API failure. */
export function explain(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return 'The API token was not accepted. Enter the token from data/api-token.';
    if (error.status === 404) return `Not found: ${error.message}. The channel may have been deleted.`;
    return error.message;
  }
  if (error instanceof DOMException && error.name === 'NotAllowedError') {
    return 'The camera or microphone was refused. Allow them for this site in the browser settings, then retry.';
  }
  if (error instanceof DOMException && error.name === 'NotFoundError') {
    return 'No camera or microphone was found.';
  }
  return error instanceof Error ? error.message : String(error);
}

type Child = Node | string | undefined | false;

/** `h('button', { type: 'button', onclick }, 'Go')`: an element with properties/attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value as EventListener);
    } else if (key in element && !key.includes('-')) {
      (element as unknown as Record<string, unknown>)[key] = value;
    } else {
      element.setAttribute(
        key,
        value === true ? '' : typeof value === 'string' ? value : JSON.stringify(value),
      );
    }
  }
  for (const child of children) if (child !== undefined && child !== false) element.append(child);
  return element;
}

/** An element of the page's HTML, by id; a missing one is a bug of the page. */
export function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from the page`);
  return element;
}

/** The page's status line (role=status, polite) or alert (assertive) for errors. */
export function announce(text: string, kind: 'info' | 'error' = 'info'): void {
  const status = byId('status');
  status.textContent = text;
  status.dataset['kind'] = kind;
  status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

/** A button that copies `text()` and says so. */
export function copyButton(label: string, text: () => string): HTMLButtonElement {
  const button = h('button', { type: 'button', className: 'secondary' }, label);
  button.addEventListener('click', () => {
    void navigator.clipboard.writeText(text()).then(
      () => {
        announce('Copied.');
      },
      () => {
        announce('Copying failed: select the text and copy it by hand.', 'error');
      },
    );
  });
  return button;
}

export function formatBitrate(bps: number): string {
  if (!Number.isFinite(bps) || bps <= 0) return '0 kbps';
  return bps >= 1_000_000 ? `${(bps / 1_000_000).toFixed(2)} Mbps` : `${Math.round(bps / 1000)} kbps`;
}

/** The signaling URL of this server, as CreateChannel would hand it out. */
export function defaultSoraUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signaling`;
}

/**
 * A token form in `container`: shown when no token is kept or it was refused; `onToken` runs with the token once
 * one is entered (and at once when one is kept).
 */
export function requireToken(container: HTMLElement, onToken: (token: string) => void): { refused(): void } {
  const input = h('input', { id: 'api-token', type: 'password', autocomplete: 'off', required: true });
  const form = h(
    'form',
    { className: 'card token-form' },
    h('label', { htmlFor: 'api-token' }, 'API token'),
    h(
      'p',
      { className: 'hint' },
      'Printed at the first start and kept in data/api-token. Kept in this browser.',
    ),
    input,
    h('button', { type: 'submit' }, 'Use this token'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token === '') return;
    storeToken(token);
    form.hidden = true;
    onToken(token);
  });
  container.append(form);
  const kept = storedToken();
  if (kept === undefined) form.hidden = false;
  else {
    form.hidden = true;
    onToken(kept);
  }
  return {
    refused() {
      forgetToken();
      form.hidden = false;
      input.focus();
    },
  };
}

/**
 * Why a signaling WebSocket was closed, for a person: README "Broadcasting", the close codes. `undefined` for an
 * orderly end that needs no explanation (the page's own disconnect).
 */
export function explainSignalingClose(
  code: number | undefined,
  reason: string | undefined,
): string | undefined {
  const because = reason === undefined || reason === '' ? '' : ` (${reason})`;
  switch (code) {
    case 1000:
      if (reason === 'CHANNEL-DELETED') return 'The channel was deleted.';
      if (reason === 'DISCONNECTED-BY-API') return 'Disconnected through the API (DisconnectConnection).';
      if (reason === 'SHUTDOWN') return 'The server is shutting down.';
      return undefined;
    case 4401:
      return `The channel's auth webhook refused the connection${because}.`;
    case 4404:
      return 'The channel does not exist or was deleted: check the channel_id, or create a channel.';
    case 4408:
      return `The server gave up waiting${because}.`;
    case 4415:
      return 'The server does not take this video codec: choose H264, VP8 or VP9.';
    case 4429:
      return 'Too many signaling messages: the server closed the connection.';
    case 4490:
    case 4503:
      return `The server could not go on${because}; its log says more.`;
    case undefined:
      return undefined;
    default:
      return `The connection to the server ended (code ${code}${reason === undefined || reason === '' ? '' : `, ${reason}`}).`;
  }
}

/**
 * What a person should read when sora-js-sdk's `connect()` failed. The SDK's ConnectError (not exported) carries
 * the WebSocket close code in `.code` and its reason in `.reason`.
 */
export function explainConnectFailure(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'number') {
    const reason = 'reason' in error && typeof error.reason === 'string' ? error.reason : undefined;
    if (error.code === 1006) return 'The signaling URL could not be reached: check sora_url.';
    return (
      explainSignalingClose(error.code, reason) ??
      `The server closed the connection (${reason ?? 'no reason'}).`
    );
  }
  if (error instanceof Error && /connection timeout/i.test(error.message)) {
    return 'The media connection did not come up within a minute: a firewall may block UDP (see --ice-servers).';
  }
  return explain(error);
}

/** What a person should read when a live connection ended (sora-js-sdk's `disconnect` event). */
export function explainDisconnect(event: {
  type: string;
  title: string;
  code?: number;
  reason?: string;
}): string {
  const known = explainSignalingClose(event.code, event.reason);
  if (known !== undefined) return known;
  if (event.title === 'DISCONNECT') return 'Disconnected.';
  if (event.type === 'normal') return 'The server ended the connection.';
  if (event.title.startsWith('ICE-') || event.title === 'CONNECTION-STATE-FAILED') {
    return `The media connection was lost (${event.title}). Check the network, then go again.`;
  }
  return `The connection ended unexpectedly (${event.title}).`;
}

/** sora-js-sdk's `disconnect` event (SoraCloseEvent): `type` is `normal` or `abend`. */
export interface SoraCloseEventLike {
  readonly type: string;
  readonly title: string;
  readonly code?: number;
  readonly reason?: string;
}

/** sora-js-sdk's `notify` message, the fields the pages read. */
export interface SoraNotify {
  readonly event_type: string;
  readonly connection_id?: string;
  readonly channel_connections?: number;
}

/**
 * The part of sora-js-sdk's ConnectionPublisher the pages use. The SDK's .d.ts files import one another without
 * file extensions, which TypeScript's nodenext resolution (this project's) does not follow, so the SDK's classes
 * type as `any`; this says what we rely on instead. Cast `Sora.connection(url).sendonly(…)` to it.
 */
export interface SoraPublisher {
  readonly pc: RTCPeerConnection | null;
  readonly connectionId: string | null;
  on(kind: 'disconnect', callback: (event: SoraCloseEventLike) => void): void;
  on(kind: 'track', callback: (event: RTCTrackEvent) => void): void;
  on(kind: 'removetrack', callback: (event: MediaStreamTrackEvent) => void): void;
  on(kind: 'notify', callback: (event: SoraNotify) => void): void;
  connect(stream: MediaStream): Promise<MediaStream>;
  disconnect(): Promise<void>;
}
