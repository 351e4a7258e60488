import type { CatalogueImageView, CatalogueListing, CatalogueRequest } from '../../shared/web-source';
import { imageUrlProblem, sha256Problem, urlFileName } from '../../shared/web-source';
import type { SliceCreator } from './app-store';
import { prunedSelections } from './prune-selections';

/** An image from the web, chosen instead of a file: a typed URL, or a catalogue entry. */
export type WebChoice = { kind: 'url'; url: string; sha256: string | null; name: string } | { kind: 'os'; entry: CatalogueImageView; name: string };

export interface CatalogueState {
  listing: CatalogueListing | null;
  loading: boolean;
  error: string | null;
  /** The folder shown (names from the top), and the search typed. */
  folder: string[];
  search: string;
  /** The source asked for; null: the service's first. */
  source: string | null;
}

export interface WebState {
  /** The dialog open: "Flash from URL" or "Choose OS". */
  dialog: 'url' | 'catalogue' | null;
  urlInput: string;
  shaInput: string;
  urlError: string | null;
  shaError: string | null;
  chosen: WebChoice | null;
  catalogue: CatalogueState;
}

export interface WebSourceSlice {
  web: WebState;
  urlDialogOpened(): void;
  urlTyped(text: string): void;
  shaTyped(text: string): void;
  /** "Use this URL": checked here for what needs no network; the service checks the rest when Flash is confirmed. */
  urlSubmitted(): void;
  /** "Choose OS": the catalogue is fetched now, not before (Imprint sends nothing on its own). */
  catalogueOpened(): Promise<void>;
  catalogueFolderOpened(folder: string[]): Promise<void>;
  catalogueSearchTyped(text: string): Promise<void>;
  catalogueSourceChosen(source: string): Promise<void>;
  catalogueEntryChosen(entry: CatalogueImageView): void;
  webDialogClosed(): void;
  /** Back to choosing a file. */
  webChoiceCleared(): void;
}

const CATALOGUE_CLOSED: CatalogueState = { listing: null, loading: false, error: null, folder: [], search: '', source: null };

export const createWebSourceSlice: SliceCreator<WebSourceSlice> = (set, get, api) => {
  const patch = (p: Partial<WebState>) => set((s) => ({ web: { ...s.web, ...p } }));
  const patchCatalogue = (p: Partial<CatalogueState>) => set((s) => ({ web: { ...s.web, catalogue: { ...s.web.catalogue, ...p } } }));
  /** A web image replaces the file: the file's details and field are cleared, and drives it no longer fits are unchosen. */
  const choose = (chosen: WebChoice) => {
    set((s) => ({ web: { ...s.web, chosen, dialog: null }, image: { ...s.image, details: null, pathInput: '', error: null, notice: null, inspecting: null } }));
    set(prunedSelections(get()));
  };
  // Answers can arrive out of order (typing a search fast): only the latest request's is shown.
  let latest = 0;
  const load = async (req: CatalogueRequest) => {
    const n = ++latest;
    patchCatalogue({ loading: true, error: null });
    const result = await api.loadCatalogue(req);
    if (n !== latest || get().web.dialog !== 'catalogue') return;
    if (result.ok) patchCatalogue({ loading: false, listing: result.value, source: result.value.source });
    else patchCatalogue({ loading: false, error: result.error.message });
  };
  const request = (c: CatalogueState): CatalogueRequest => ({
    ...(c.source !== null ? { source: c.source } : {}),
    ...(c.search.trim() ? { search: c.search.trim() } : { folder: c.folder }),
  });
  return {
    web: { dialog: null, urlInput: '', shaInput: '', urlError: null, shaError: null, chosen: null, catalogue: CATALOGUE_CLOSED },

    urlDialogOpened: () => {
      const w = get().web;
      const current = w.chosen?.kind === 'url' ? w.chosen : null;
      patch({ dialog: 'url', urlInput: current?.url ?? w.urlInput, shaInput: current?.sha256 ?? w.shaInput, urlError: null, shaError: null });
    },
    urlTyped: (text) => patch({ urlInput: text, urlError: null }),
    shaTyped: (text) => patch({ shaInput: text, shaError: null }),
    urlSubmitted: () => {
      const { urlInput, shaInput } = get().web;
      const urlError = imageUrlProblem(urlInput);
      const shaError = sha256Problem(shaInput);
      if (urlError || shaError) {
        patch({ urlError, shaError });
        return;
      }
      const url = urlInput.trim();
      const sha = shaInput.trim().toLowerCase();
      choose({ kind: 'url', url, sha256: sha || null, name: urlFileName(url) });
    },

    catalogueOpened: async () => {
      patch({ dialog: 'catalogue' });
      const c = get().web.catalogue;
      if (c.listing === null || c.error !== null) await load(request(c));
    },
    catalogueFolderOpened: async (folder) => {
      patchCatalogue({ folder, search: '' });
      await load(request(get().web.catalogue));
    },
    catalogueSearchTyped: async (text) => {
      patchCatalogue({ search: text });
      await load(request(get().web.catalogue));
    },
    catalogueSourceChosen: async (source) => {
      patchCatalogue({ source, folder: [], search: '', listing: null });
      await load(request(get().web.catalogue));
    },
    catalogueEntryChosen: (entry) => choose({ kind: 'os', entry, name: entry.name }),
    webDialogClosed: () => patch({ dialog: null }),
    webChoiceCleared: () => {
      patch({ chosen: null });
      set(prunedSelections(get()));
    },
  };
};
