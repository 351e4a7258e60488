import * as fs from 'fs';
import * as path from 'path';
import type { Drive } from '../../../shared/drive';
import { refusalsFor, warningsFor } from '../../../shared/drive-constraints';
import { ImprintError } from '../errors';
import { disksHoldingFile, sameDevice } from '../io/block-device';
import { findDrive } from '../drives/list-drives';
import { isSystemDisk } from '../drives/system-drive';
import { driveFromSysfs } from '../drives/sysfs-drive';

/** A target, resolved and checked, ready to be confirmed and written. */
export interface TargetPlan {
  path: string;
  isBlockDevice: boolean;
  /** The drive, for block devices. */
  drive: Drive | null;
  /** Things the user should know before agreeing (large drive, loop device). */
  warnings: string[];
}

export interface SourceFacts {
  /** Null when nothing is read onto the targets (a capacity check). */
  path: string | null;
  /** Uncompressed size when known exactly. */
  size: number | null;
  /** A lower bound when the size is not known (drive-constraints' ImageFacts.minSize). */
  minSize?: number | null;
  isDevice: boolean;
}

async function resolveOne(target: string, source: SourceFacts, known: Drive | null): Promise<TargetPlan> {
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(target);
  } catch {
    stat = null;
  }
  if (stat === null) {
    if (target.startsWith('/dev/')) throw new ImprintError('E_TARGET_NOT_FOUND', `${target} does not exist: is the drive plugged in?`);
    if (!fs.existsSync(path.dirname(path.resolve(target)))) {
      throw new ImprintError('E_TARGET_NOT_FOUND', `Cannot create ${target}: the folder ${path.dirname(path.resolve(target))} does not exist.`);
    }
    return { path: target, isBlockDevice: false, drive: null, warnings: [] };
  }
  if (stat.isDirectory()) throw new ImprintError('E_TARGET_NOT_WRITABLE_KIND', `${target} is a folder. Give a drive (/dev/...) or an image file name.`);
  if (stat.isFile()) {
    if (source.path !== null && !source.isDevice && sameDevice(target, source.path)) {
      throw new ImprintError('E_TARGET_HOLDS_SOURCE', `${target} is the image itself: writing it would destroy the source.`);
    }
    return { path: target, isBlockDevice: false, drive: null, warnings: [`${target} exists and will be overwritten.`] };
  }
  if (!stat.isBlockDevice()) throw new ImprintError('E_TARGET_NOT_WRITABLE_KIND', `${target} is neither a drive nor a regular file.`);

  const drive = known ? { ...known } : ((await findDrive(target)) ?? driveFromSysfs(target));
  // Independent of any drive list: the disk holding / is never written.
  if (isSystemDisk(target)) drive.system = true;
  const sourcePath = source.path;
  const refusals = refusalsFor(drive, { path: sourcePath === null ? null : path.resolve(sourcePath), size: source.size, minSize: source.minSize ?? null, sourceDevice: source.isDevice ? sourcePath : null });
  const holders = source.isDevice || sourcePath === null ? [] : disksHoldingFile(sourcePath);
  if (holders.some((d) => sameDevice(d, target)) || (source.isDevice && sourcePath !== null && sameDevice(sourcePath, target))) {
    if (!refusals.some((r) => r.code === 'E_TARGET_HOLDS_SOURCE')) {
      refusals.push({ code: 'E_TARGET_HOLDS_SOURCE', reason: `${target} holds the source being read` });
    }
  }
  const first = refusals[0];
  if (first) {
    const more = refusals.length > 1 ? ` Also: ${refusals.slice(1).map((r) => r.reason).join('; ')}.` : '';
    throw new ImprintError(first.code, `Refusing to write ${target}: ${first.reason}.${more}`);
  }
  return { path: target, isBlockDevice: true, drive, warnings: warningsFor(drive) };
}

/**
 * Resolves every target and applies the safety rules; throws the first
 * refusal. Nothing is written. `known`: plans made a moment ago for the same
 * targets (a flash from a URL plans them before the download, and again once
 * the image's size and file are known): their drives are taken as they were
 * listed then, instead of listing the drives again (lsblk, 0.2-0.8 s of a
 * flash), while every rule is applied again to the new facts.
 */
export async function planTargets(targets: string[], source: SourceFacts, known: TargetPlan[] = []): Promise<TargetPlan[]> {
  if (targets.length === 0) throw new ImprintError('E_BAD_ARGUMENTS', 'Name at least one target drive or file.');
  const plans: TargetPlan[] = [];
  for (const t of targets) {
    const plan = await resolveOne(t, source, known.find((k) => k.path === t)?.drive ?? null);
    const twin = plans.find((p) => sameDevice(p.path, plan.path));
    if (twin) throw new ImprintError('E_TARGET_DUPLICATE', `${t} and ${twin.path} are the same ${plan.isBlockDevice ? 'device' : 'file'}: name each target once.`);
    plans.push(plan);
  }
  return plans;
}
