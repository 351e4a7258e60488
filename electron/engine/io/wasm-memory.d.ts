// The engine targets Node without DOM typings; this is the slice of the
// WebAssembly API it uses to get page-aligned memory (see aligned-buffer.ts).
declare namespace WebAssembly {
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer;
  }
}
