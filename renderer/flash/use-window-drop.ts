import { useEffect, useState } from 'react';
import type { DesktopExtras } from '../../shared/ipc-contract';
import { droppedFile, type DroppedFile } from '../../shared/dropped-file';
import { desktopExtras } from '../api/get-api';

/**
 * Files dropped anywhere on the window. The desktop app's preload gives a
 * dropped file's path (`pathForFile`, Electron's webUtils); browsers give
 * none, and the store asks the user for the path instead. Returns whether a
 * drag is over the window, to show the drop hint.
 */
export function useWindowDrop(onDrop: (file: DroppedFile) => void, extras?: Partial<DesktopExtras>): boolean {
  const [over, setOver] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth++;
      setOver(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    };
    const overHandler = (e: DragEvent) => {
      if (hasFiles(e)) e.preventDefault(); // allows the drop
    };
    const drop = (e: DragEvent) => {
      e.preventDefault(); // never let the browser navigate to the file
      depth = 0;
      setOver(false);
      const file = e.dataTransfer?.files[0];
      if (!file) return;
      onDrop(droppedFile(file, extras ?? desktopExtras()));
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', overHandler);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', overHandler);
      window.removeEventListener('drop', drop);
    };
  }, [onDrop, extras]);
  return over;
}
