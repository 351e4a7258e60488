import * as path from 'path';

/**
 * Where the benchmark keeps its cached inputs. The image takes minutes to
 * build and compress, so it is kept between runs under a folder named for
 * the recipe's version: change IMAGE_VERSION whenever the recipe changes.
 */
export const CACHE_ROOT = process.env.IMPRINT_BENCH_DIR ?? '/var/tmp/imprint-bench';
export const IMAGE_VERSION = 'os-image-v2';
export const IMAGE_DIR = path.join(CACHE_ROOT, IMAGE_VERSION);

export const MiB = 1 << 20;
export const GiB = 1 << 30;

/** The OS-like image: GPT, a FAT boot partition, an ext4 root partly filled, zeros after. */
export const IMAGE_SIZE = GiB;
export const BOOT_START = 1 * MiB;
export const BOOT_SIZE = 64 * MiB;
export const ROOT_START = BOOT_START + BOOT_SIZE;
/** Root runs to 1 MiB before the end: GPT keeps its backup header in the last sectors. */
export const ROOT_SIZE = IMAGE_SIZE - ROOT_START - MiB;
/** Real files copied from the system (text, binaries, already-compressed docs). */
export const REAL_FILES_BYTES = 260 * MiB;
/** Incompressible data, like media or packed archives on a real root. */
export const RANDOM_BYTES = 90 * MiB;
/** Files for the boot partition (a kernel and modules look like this). */
export const BOOT_FILES_BYTES = 24 * MiB;

/** The loop target is a little larger than the image, as a real card would be. */
export const TARGET_SIZE = IMAGE_SIZE + 64 * MiB;

/** The repository root (out/bench/ is two levels below it). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const IMPRINT_CLI = path.join(REPO_ROOT, 'bin', 'imprint.js');
