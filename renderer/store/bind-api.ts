import type { ImprintApi } from '../../shared/ipc-contract';
import type { AppStore } from './app-store';

/**
 * Wires the service's pushes to store actions, once, outside React: drive
 * list changes and job events reach the store whether or not a component is
 * mounted. Returns the function that unwires them.
 */
export function bindApi(store: AppStore, api: ImprintApi): () => void {
  const offDrives = api.onDrivesChanged((drives) => store.getState().drivesChanged(drives));
  const offJobs = api.onJobEvent((event) => store.getState().jobEventReceived(event));
  void store.getState().drivesRequested();
  return () => {
    offDrives();
    offJobs();
  };
}
