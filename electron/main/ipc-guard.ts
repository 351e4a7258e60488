import type { ErrorInfo } from '../../shared/error-codes';
import type { Result } from '../../shared/ipc-contract';

/**
 * The checks every IPC call passes before the service sees it, as pure
 * functions (Electron cannot run in the tests; ipc-bindings.ts feeds these
 * from the real event). A call must come from our window's main frame, which
 * must be showing our own index.html; then its payload must pass its schema.
 */

/** What ipc-bindings.ts learns about a call's sender from the IPC event. */
export interface CallSender {
  /** `event.senderFrame` is our window's `webContents.mainFrame` (identity), from our window's webContents. */
  isOurMainFrame: boolean;
  /** The frame's URL, or null when the frame is gone (navigated away or destroyed). */
  url: string | null;
}

/**
 * True when `url` is the app's index page: the same file:// path. Query and
 * hash are the page's own business (state in the URL); scheme, host and path
 * must match exactly.
 */
export function isIndexUrl(url: string, indexUrl: string): boolean {
  let a: URL;
  let b: URL;
  try {
    a = new URL(url);
    b = new URL(indexUrl);
  } catch {
    return false;
  }
  // file: as before; imprint: is the app's own scheme (app-protocol.ts), now the one the window loads.
  const ours = b.protocol === 'file:' || b.protocol === 'imprint:';
  return ours && a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
}

/** Null when the sender may call, else why not (for the log and the refused result). */
export function senderProblem(sender: CallSender, indexUrl: string): string | null {
  if (!sender.isOurMainFrame) return 'the call did not come from the main frame of the Imprint window';
  if (sender.url === null) return 'the calling frame is gone';
  if (!isIndexUrl(sender.url, indexUrl)) return `the calling page is ${JSON.stringify(sender.url.slice(0, 200))}, not Imprint's own`;
  return null;
}

/**
 * One IPC call: sender checked first (a foreign frame learns nothing, not
 * even whether its payload was valid), then `dispatch` (which validates the
 * payload against the contract's schema and calls the service).
 */
export async function guardedCall(
  sender: CallSender,
  indexUrl: string,
  name: string,
  payload: unknown,
  dispatch: (name: string, payload: unknown) => Promise<Result<unknown>>,
  log: (message: string) => void = () => undefined,
): Promise<Result<unknown>> {
  const problem = senderProblem(sender, indexUrl);
  if (problem !== null) {
    log(`refused IPC call ${name}: ${problem}`);
    const error: ErrorInfo = { code: 'E_PERMISSION', message: 'Refused: this call did not come from the Imprint window.' };
    return { ok: false, error };
  }
  return dispatch(name, payload);
}
