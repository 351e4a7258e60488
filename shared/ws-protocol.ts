import type { CallName, Calls, EventName, Events, Result } from './ipc-contract';

/**
 * Browser mode's wire protocol: the IPC contract (ipc-contract.ts) carried as
 * JSON text frames over one WebSocket at `ws://127.0.0.1:PORT/api?token=TOKEN`.
 *
 *  - client -> server: `{ id, call, request }`: one call; `id` is chosen by the
 *    client (a positive integer, unique among its calls in flight).
 *  - server -> client: `{ id, result }`: the answer to the call with that id;
 *    errors are data (`{ ok: false, error }`), as over Electron's IPC.
 *  - server -> client: `{ event, payload }`: a push, the same events the
 *    preload's `onDrivesChanged` / `onJobEvent` deliver.
 *
 * A frame that is not valid JSON or names no known call is answered with
 * `{ id, result: { ok: false, error: { code: 'E_BAD_ARGUMENTS', ... } } }`
 * (id 0 when the frame had no usable id).
 */

/** The URL path of the WebSocket endpoint. */
export const WS_API_PATH = '/api';

/** The query parameter that carries the session token (in the page URL and the WebSocket URL). */
export const WS_TOKEN_PARAM = 'token';

/** A call from the browser. */
export type WsCallFrame = {
  [K in CallName]: { id: number; call: K; request: Calls[K]['request'] };
}[CallName];

/** The answer to one call. */
export type WsResultFrame = {
  [K in CallName]: { id: number; result: Result<Calls[K]['response']> };
}[CallName];

/** A push from the server. */
export type WsEventFrame = {
  [E in EventName]: { event: E; payload: Events[E] };
}[EventName];

/** Anything the server sends. */
export type WsServerFrame = WsResultFrame | WsEventFrame;

/** Tells an event push from a call's answer. */
export function isEventFrame(frame: WsServerFrame): frame is WsEventFrame {
  return 'event' in frame;
}

/** The WebSocket URL for a page served at `pageUrl` (which carries the token in its query). */
export function apiUrlFor(pageUrl: string): string {
  const u = new URL(pageUrl);
  const token = u.searchParams.get(WS_TOKEN_PARAM) ?? '';
  const scheme = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${u.host}${WS_API_PATH}?${WS_TOKEN_PARAM}=${encodeURIComponent(token)}`;
}
