import * as fs from 'fs';
import * as path from 'path';
import { formatBytes } from '../../../shared/units';
import { ImprintError } from '../errors';
import { blockDeviceSize, diskOfDeviceNumber, disksHoldingFile, logicalBlockSize, sameDevice } from '../io/block-device';
import { RescueMap, readMapfile, type MapBlock, type MapPhase } from '../formats/rescue-map';

/**
 * Everything a rescue checks before it reads a byte: what the source is and
 * how big, where the output and the mapfile go, and whether the mapfile and
 * the output agree. A refusal here leaves every file as it was.
 */
export interface PreparedRescue {
  source: string;
  output: string;
  mapfile: string;
  size: number;
  sectorSize: number;
  blocks: MapBlock[];
  currentPos: number;
  currentStatus: MapPhase;
  currentPass: number;
  /** Set when an earlier run's mapfile was found. */
  resumedFrom: { rescued: number } | null;
}

export function prepareRescue(source: string, output: string, mapfileArg?: string): PreparedRescue {
  const mapfile = mapfileArg ?? `${output}.map`;
  const { size, sectorSize, isDevice } = inspectRescueSource(source);
  checkOutput(source, output, isDevice);
  if (path.resolve(mapfile) === path.resolve(output) || path.resolve(mapfile) === path.resolve(source)) {
    throw new ImprintError('E_BAD_ARGUMENTS', 'The mapfile must be a file of its own, not the source or the output.');
  }
  const content = readMapfile(mapfile);
  const map = content ? RescueMap.fromContent(content, size) : new RescueMap(size);
  const rescued = map.totals()['+'];
  const outputSize = fileSize(output);
  if (!content && outputSize !== null && outputSize > 0) {
    throw new ImprintError(
      'E_OUTPUT_EXISTS',
      `${output} already exists and there is no mapfile (${mapfile}) saying what it holds. Choose a new output file, or give the earlier rescue's mapfile with --map to resume it.`,
    );
  }
  if (content && rescued > 0 && outputSize === null) {
    throw new ImprintError('E_BAD_ARGUMENTS', `The mapfile ${mapfile} says ${formatBytes(rescued)} were rescued into ${output}, but ${output} does not exist. Give the output of that rescue, or a new mapfile name.`);
  }
  checkSpace(output, size - rescued);
  return {
    source,
    output,
    mapfile,
    size,
    sectorSize,
    blocks: map.blocks,
    currentPos: map.currentPos,
    currentStatus: map.currentStatus,
    currentPass: map.currentPass,
    resumedFrom: content ? { rescued } : null,
  };
}

/** Size and sector size of what is rescued: a drive, or (for tests and images) a file. */
export function inspectRescueSource(source: string): { size: number; sectorSize: number; isDevice: boolean } {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new ImprintError('E_SOURCE_NOT_FOUND', `${source} does not exist.`);
  }
  if (stat.isDirectory()) throw new ImprintError('E_SOURCE_IS_DIRECTORY', `${source} is a folder, not a drive.`);
  if (!stat.isBlockDevice() && !stat.isFile()) throw new ImprintError('E_BAD_ARGUMENTS', `${source} is neither a drive nor a file.`);
  const isDevice = stat.isBlockDevice();
  const size = isDevice ? blockDeviceSize(source) : stat.size;
  if (size === 0) throw new ImprintError('E_SOURCE_EMPTY', `${source} reports a size of 0: there is nothing to rescue (is the drive still connected?).`);
  return { size, sectorSize: isDevice ? logicalBlockSize(source) : 512, isDevice };
}

function checkOutput(source: string, output: string, sourceIsDevice: boolean): void {
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(output);
  } catch {
    // Does not exist yet: fine, if its folder does.
  }
  if (stat && !stat.isFile()) {
    throw new ImprintError('E_TARGET_NOT_WRITABLE_KIND', `${output} is not a regular file. Rescue into a file (an image), then restore that image to a drive.`);
  }
  if (stat && sameDevice(source, output)) throw new ImprintError('E_TARGET_HOLDS_SOURCE', 'The output is the source itself.');
  const dir = path.dirname(path.resolve(output));
  if (!fs.existsSync(dir)) throw new ImprintError('E_TARGET_NOT_FOUND', `The folder ${dir} does not exist.`);
  if (sourceIsDevice) {
    // Writing the rescue onto the failing drive would overwrite what is being rescued.
    const sourceDisk = diskOfDeviceNumber(fs.statSync(source).rdev);
    const holders = disksHoldingFile(dir);
    if (sourceDisk && holders.includes(sourceDisk)) {
      throw new ImprintError('E_TARGET_HOLDS_SOURCE', `${output} is on ${sourceDisk}, the drive being rescued: writing there would destroy what you are saving. Put the output on another drive.`);
    }
  }
}

function fileSize(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch {
    return null;
  }
}

/** The output is sparse, but every byte still to rescue may need space. */
function checkSpace(output: string, needed: number): void {
  let free: number;
  try {
    const s = fs.statfsSync(path.dirname(path.resolve(output)));
    free = s.bavail * s.bsize;
  } catch {
    return;
  }
  if (free < needed) {
    throw new ImprintError('E_NO_SPACE_FOR_OUTPUT', `The rescue may need ${formatBytes(needed)} but the output's folder has ${formatBytes(free)} free.`);
  }
}
