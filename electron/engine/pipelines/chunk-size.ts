/**
 * 4 MiB chunks: large enough for full device speed, small enough that cancel
 * is quick. Its own module so that a backup, which needs the size but not the
 * flash engine, does not load write-pipeline.ts and what it imports (about
 * a third of the backup command's module loading, before the drive is read).
 */
export const CHUNK_SIZE = 4 << 20;
