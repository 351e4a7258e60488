import { useShallow } from 'zustand/react/shallow';
import { FilePathStep } from '../app/file-path-step';
import { LayoutMap } from '../drives/layout-map';
import { useApp } from '../store/store-context';
import { CatalogueDialog } from './catalogue-dialog';
import { BrowseFilesButton } from '../inside/browse-files-dialog';
import { ImageSummary } from './image-summary';
import { UrlDialog } from './url-dialog';
import { WebSourceButtons, WebSourceSummary } from './web-source';

/** Step 1: choose the image (dialog, drop, a typed path, a URL or a catalogue entry) and see what it is. */
export function ImageStep() {
  const { pathInput, details, inspecting, error, notice } = useApp(
    useShallow((s) => ({
      pathInput: s.image.pathInput,
      details: s.image.details,
      inspecting: s.image.inspecting,
      error: s.image.error,
      notice: s.image.notice,
    })),
  );
  const web = useApp(useShallow((s) => ({ chosen: s.web.chosen, dialog: s.web.dialog })));
  const nativeDialogs = useApp((s) => s.nativeDialogs);
  const imageChooseRequested = useApp((s) => s.imageChooseRequested);
  const imagePathTyped = useApp((s) => s.imagePathTyped);
  const imagePathSubmitted = useApp((s) => s.imagePathSubmitted);
  return (
    <FilePathStep
      number={1}
      title="Image"
      headingId="step-image"
      inputId="image-path"
      label="Image path"
      placeholder="/home/me/Downloads/os.img.xz"
      chooseLabel="Choose image…"
      actions={<WebSourceButtons />}
      hint={nativeDialogs ? 'or drop an image file anywhere on this window, or type its path:' : 'or type its full path:'}
      submitLabel="Use path"
      pathInput={pathInput}
      inspecting={inspecting}
      notice={notice}
      error={error}
      onPathTyped={imagePathTyped}
      onPathSubmitted={() => void imagePathSubmitted()}
      onChooseRequested={() => void imageChooseRequested()}
    >
      {web.chosen && <WebSourceSummary choice={web.chosen} />}
      {details && <ImageSummary image={details} />}
      {details && <BrowseFilesButton source={details.path} />}
      {details && <LayoutMap path={details.path} title="What the image holds" />}
      {web.dialog === 'url' && <UrlDialog />}
      {web.dialog === 'catalogue' && <CatalogueDialog />}
    </FilePathStep>
  );
}
