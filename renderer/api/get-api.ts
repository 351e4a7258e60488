import type { DesktopExtras, ImprintApi } from '../../shared/ipc-contract';
import { apiUrlFor } from '../../shared/ws-protocol';
import { createWsClient } from './ws-client';

/**
 * The API behind the UI: what Electron's preload exposed as `window.imprint`,
 * or, in browser mode (`npm run web`), a WebSocket client to the same service.
 * The rest of the renderer does not know which one it got.
 */
export function getApi(win: Window = window): ImprintApi {
  const exposed = (win as Window & { imprint?: ImprintApi }).imprint;
  if (exposed) return exposed;
  return createWsClient(apiUrlFor(win.location.href));
}

/** The desktop app's extras beside the calls (the path of a dropped file); none in browser mode. */
export function desktopExtras(win: Window = window): Partial<DesktopExtras> {
  return (win as Window & { imprint?: Partial<DesktopExtras> }).imprint ?? {};
}
