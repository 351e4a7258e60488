import type { ImprintApi } from '../../shared/ipc-contract';
import type { AppStore } from './app-store';

/**
 * Wires the service's pushes to store actions, once, outside React: drive
 * list changes and job events reach the store whether or not a component is
 * mounted. Returns the function that unwires them.
 */
export function bindApi(store: AppStore, api: ImprintApi): () => void {
  const offDrives = api.onDrivesChanged((drives) => store.getState().drivesChanged(drives));
  const offJobs = api.onJobEvent((event) => {
    store.getState().jobEventReceived(event);
    store.getState().insideJobEvent(event);
  });
  void store.getState().drivesRequested();
  // A reload, or a window opened while jobs run, shows them: progress, Cancel, then the result.
  void store.getState().jobSnapshotsRequested();
  return () => {
    offDrives();
    offJobs();
  };
}
