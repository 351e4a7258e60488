import * as fs from 'fs';
import * as path from 'path';
import { sidecarPathOf } from '../../shared/backup-metadata';
import type { BackupOutputCheck } from '../../shared/ipc-contract';

/**
 * What is at a backup's destination, for the form to say before Back up is
 * pressed (the engine checks again when the backup starts: this is advice,
 * not the guard). Only stat()s: nothing is created, opened or read, so a
 * path the client names learns it nothing beyond what `ls` would show.
 */
export function checkBackupOutput(file: string): BackupOutputCheck {
  const abs = path.resolve(file);
  const folder = statOrNull(path.dirname(abs));
  const here = statOrNull(abs);
  return {
    folderExists: folder?.isDirectory() === true,
    exists: here?.isFile() === true || fs.existsSync(sidecarPathOf(abs)),
    notAFile: here !== null && !here.isFile(),
  };
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}
