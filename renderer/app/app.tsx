import { BackupScreen } from '../backup/backup-screen';
import { FlashScreen } from '../flash/flash-screen';
import { FormatScreen } from '../format/format-screen';
import { RestoreScreen } from '../restore/restore-screen';
import { useApp } from '../store/store-context';
import { BrowseFilesDialog } from '../inside/browse-files-dialog';
import { FileBrowserDialog } from './file-browser-dialog';
import { SectionTabs } from './section-tabs';

/** The window: a title bar with the sections, and the chosen section below. */
export function App() {
  const screen = useApp((s) => s.screen);
  const browsing = useApp((s) => s.browse.for !== null);
  const lookingInside = useApp((s) => s.inside.source !== null);
  return (
    <div className="app">
      <header className="topbar">
        <h1 className="brand">Imprint</h1>
        <SectionTabs />
      </header>
      {/* The tab panel sits inside <main>: a role on <main> itself would take its landmark away. */}
      <main className="screen">
        <div className="panel" id={`panel-${screen}`} role="tabpanel" aria-labelledby={`tab-${screen}`}>
          {screen === 'flash' && <FlashScreen />}
          {screen === 'backup' && <BackupScreen />}
          {screen === 'restore' && <RestoreScreen />}
          {screen === 'format' && <FormatScreen />}
        </div>
      </main>
      {/* Before the file browser: choosing the folder to extract into opens it on top. */}
      {lookingInside && <BrowseFilesDialog />}
      {browsing && <FileBrowserDialog />}
    </div>
  );
}
