import type { DecoderChoice } from '../formats/image-kind';
import type { ZeroOutMode } from '../io/zero-runs';
import type { VerifyWhileWriting } from '../pipelines/write-pipeline-contract';

/**
 * Choices that change how the engine works, not what it does. Jobs take them
 * as options; only the edges (the CLI, the service) read them from the
 * environment, once, with engineSettingsFromEnv, and pass them down.
 */
export interface EngineSettings {
  /** IMPRINT_XZ_DECODER, IMPRINT_BZIP2_DECODER: 'builtin' forces the in-process decoder (image-kind.ts). */
  decoders: DecoderChoice;
  /** IMPRINT_VERIFY_WHILE_WRITING: when chunks may be read back before the write ends (write-pipeline.ts). */
  verifyWhileWriting: VerifyWhileWriting;
  /** IMPRINT_ZERO_OUT: 'write' writes runs of zeros as data instead of asking the drive to zero them (zero-runs.ts). */
  zeroOut: ZeroOutMode;
}

export const DEFAULT_ENGINE_SETTINGS: EngineSettings = { decoders: {}, verifyWhileWriting: 'when-idle', zeroOut: 'device' };

/** The settings an environment asks for; anything unset or unknown keeps its default. */
export function engineSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): EngineSettings {
  const v = env.IMPRINT_VERIFY_WHILE_WRITING;
  const decoders: DecoderChoice = {};
  if (env.IMPRINT_XZ_DECODER === 'builtin') decoders.xz = 'builtin';
  if (env.IMPRINT_BZIP2_DECODER === 'builtin') decoders.bzip2 = 'builtin';
  return {
    decoders,
    verifyWhileWriting: v === 'always' || v === 'off' ? v : DEFAULT_ENGINE_SETTINGS.verifyWhileWriting,
    zeroOut: env.IMPRINT_ZERO_OUT === 'write' ? 'write' : 'device',
  };
}
