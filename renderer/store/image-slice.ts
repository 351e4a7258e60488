import type { ErrorInfo } from '../../shared/error-codes';
import type { DroppedFile } from '../../shared/dropped-file';
import type { ImageDetails } from '../../shared/ipc-contract';
import type { SliceCreator } from './app-store';
import { prunedSelections } from './prune-selections';

export type { DroppedFile } from '../../shared/dropped-file';

export interface ImageState {
  /** What is typed in the "Image path" field. */
  pathInput: string;
  details: ImageDetails | null;
  /** The path being inspected now, or null. */
  inspecting: string | null;
  error: ErrorInfo | null;
  /** A hint for the user (e.g. a drop the browser gave no path for). */
  notice: string | null;
}

export interface ImageSlice {
  image: ImageState;
  imagePathTyped(text: string): void;
  imagePathSubmitted(): Promise<void>;
  /** "Choose image…": the native dialog where there is one. */
  imageChooseRequested(): Promise<void>;
  imageChosen(path: string): Promise<void>;
  imageInspected(details: ImageDetails): void;
  imageInspectFailed(path: string, error: ErrorInfo): void;
  imageDropped(file: DroppedFile): Promise<void>;
}

export const createImageSlice: SliceCreator<ImageSlice> = (set, get, api) => {
  const patch = (p: Partial<ImageState>) => set((s) => ({ image: { ...s.image, ...p } }));
  return {
    image: { pathInput: '', details: null, inspecting: null, error: null, notice: null },

    imagePathTyped: (text) => patch({ pathInput: text }),

    imagePathSubmitted: async () => {
      const path = get().image.pathInput.trim();
      if (!path) {
        patch({ error: { code: 'E_BAD_ARGUMENTS', message: 'Type the path of an image file first.' } });
        return;
      }
      await get().imageChosen(path);
    },

    imageChooseRequested: async () => {
      // No native dialog (browser mode): the service-backed file browser instead.
      if (!get().nativeDialogs) return get().browseOpened('image', get().image.pathInput);
      const result = await api.chooseImage({});
      if (!result.ok) {
        patch({ error: result.error });
        return;
      }
      if (result.value === null) {
        // No dialog (browser mode) or the user cancelled it; the path field still works.
        return;
      }
      await get().imageChosen(result.value);
    },

    imageChosen: async (path) => {
      patch({ pathInput: path, inspecting: path, error: null, notice: null });
      const result = await api.inspectImage({ path });
      if (get().image.inspecting !== path) return; // a newer choice won
      if (result.ok) get().imageInspected(result.value);
      else get().imageInspectFailed(path, result.error);
    },

    imageInspected: (details) => {
      patch({ details, inspecting: null, error: null, pathInput: details.path });
      // A file chosen replaces an image from the web.
      if (get().web.chosen) set((s) => ({ web: { ...s.web, chosen: null } }));
      set(prunedSelections(get()));
      void get().layoutRequested(details.path);
    },

    imageInspectFailed: (_path, error) => {
      patch({ details: null, inspecting: null, error });
      set(prunedSelections(get()));
    },

    imageDropped: async (file) => {
      if (file.path) {
        await get().imageChosen(file.path);
        return;
      }
      patch({
        notice: `The browser does not tell Imprint where "${file.name}" is stored. Type its full path in "Image path" and press Use path.`,
        error: null,
      });
    },
  };
};
