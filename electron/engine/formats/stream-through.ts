import { PassThrough, pipeline, type Transform } from 'stream';
import { openFileStream } from '../io/growing-read-stream';
import { INFLATE_CHUNK } from './image-kind';

/**
 * Bytes [start, end] of `file` through `decoder` (none: as stored), as an
 * async stream of pieces: what image kinds that decode with a Node Transform
 * (gzip, deflated zip entries, the JavaScript bzip2 decoder) stream. A file
 * still downloading is read as it arrives (io/growing-read-stream.ts).
 */
export async function* streamThrough(
  file: string,
  decoder: Transform | null,
  opts: { start?: number; end?: number; signal?: AbortSignal; onInput?: (bytes: number) => void },
): AsyncGenerator<Buffer> {
  const input = openFileStream(file, { start: opts.start ?? 0, end: opts.end, highWaterMark: INFLATE_CHUNK, signal: opts.signal });
  const { onInput } = opts;
  if (onInput) input.on('data', (c) => onInput(c.length));
  // pipeline() forwards errors and tears every stage down; the PassThrough
  // gives one async-iterable end even for old-style decoders (unbzip2-stream).
  const out = new PassThrough({ highWaterMark: INFLATE_CHUNK });
  // pipeline() destroys every stage, `out` included, with the first error, so
  // iterating `out` throws it. (No Promise.race against a long-lived promise
  // here: each race leaves a reaction holding its chunk, and memory grows with
  // the image.)
  let pipelineError: unknown = null;
  const finished = new Promise<void>((resolve) => {
    const stages: NodeJS.ReadableStream[] = decoder ? [input, decoder as NodeJS.ReadableStream] : [input];
    pipeline([...stages, out] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], (err) => {
      pipelineError = err ?? null;
      resolve();
    });
  });
  try {
    for await (const chunk of out as AsyncIterable<Buffer>) yield chunk;
    await finished;
    if (pipelineError) throw pipelineError;
  } finally {
    input.destroy();
    out.destroy();
  }
}
