import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const MiB = 1024 * 1024;

/**
 * A small raw disk image: random content with a real MBR partition table
 * written by sfdisk, so the UI has a partition table type to show.
 */
export function makeRawImage(dir: string, name: string, mib: number): string {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < mib; i++) fs.writeSync(fd, randomBytes(MiB));
  fs.closeSync(fd);
  execFileSync('sfdisk', ['--quiet', file], { input: 'label: dos\nstart=2048, type=83\n' });
  return file;
}

/** The same image compressed by the real gzip tool (kept beside it). */
export function gzipOf(file: string): string {
  execFileSync('gzip', ['-k', '-f', '-1', file]);
  return `${file}.gz`;
}

/** A .gz cut off in the middle: a download that stopped early. */
export function truncatedCopy(file: string, keepFraction: number): string {
  const out = file.replace(/(\.\w+)$/, `.truncated$1`);
  const size = fs.statSync(file).size;
  fs.writeFileSync(out, fs.readFileSync(file).subarray(0, Math.floor(size * keepFraction)));
  return out;
}

/**
 * An image that takes seconds to decompress, so a test can cancel it
 * mid-way: text-like content (bzip2 cannot skip it as a run) compressed by
 * the real bzip2 tool; the browser-mode server under test is started with
 * IMPRINT_BZIP2_DECODER=builtin, so it decodes in JavaScript (the native
 * decoder would finish before a click could cancel).
 */
export function makeSlowImage(dir: string, name: string, mib: number): string {
  const file = path.join(dir, name);
  const words = Array.from({ length: 4096 }, () => randomBytes(6).toString('base64').replace(/[^a-z]/gi, '').toLowerCase());
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < mib; i++) {
    let chunk = '';
    while (chunk.length < MiB) chunk += words[Math.floor(Math.random() * words.length)] + (Math.random() < 0.1 ? '\n' : ' ');
    fs.writeSync(fd, chunk.slice(0, MiB));
  }
  fs.closeSync(fd);
  execFileSync('bzip2', ['-f', file]);
  return `${file}.bz2`;
}
