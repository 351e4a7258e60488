import type { Result } from '../../shared/ipc-contract';
import { validateRequest } from '../../shared/ipc-schemas';
import type { ImprintService } from './imprint-service';

/**
 * A call from an untrusted client (the renderer, a browser tab): the name
 * and payload are checked against the contract's schemas before the service
 * sees them. Every transport goes through here; none calls the service raw.
 */
export async function dispatchUntrusted(service: ImprintService, name: unknown, payload: unknown): Promise<Result<unknown>> {
  const checked = validateRequest(name, payload);
  if (!checked.ok) return checked;
  // validateRequest succeeded, so `name` is a CallName and the request matches it.
  return service.call(name as Parameters<ImprintService['call']>[0], checked.value as never);
}
