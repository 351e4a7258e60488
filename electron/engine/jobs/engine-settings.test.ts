// The environment is read at the edges (the CLI, the service) into
// EngineSettings; the engine takes them as options. What each variable asks for:
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { deviceZeroOutInBackground } from '../io/zero-runs';
import { DEFAULT_ENGINE_SETTINGS, engineSettingsFromEnv } from './engine-settings';

test('IMPRINT_ZERO_OUT=write turns the drive command off', () => {
  const settings = engineSettingsFromEnv({ IMPRINT_ZERO_OUT: 'write' });
  assert.equal(settings.zeroOut, 'write');
  assert.equal(deviceZeroOutInBackground('/dev/loop0', settings.zeroOut), null);
});

test('an empty environment gives the defaults', () => {
  assert.deepEqual(engineSettingsFromEnv({}), DEFAULT_ENGINE_SETTINGS);
  assert.equal(DEFAULT_ENGINE_SETTINGS.verifyWhileWriting, 'when-idle');
  assert.equal(DEFAULT_ENGINE_SETTINGS.zeroOut, 'device');
});

test('IMPRINT_VERIFY_WHILE_WRITING takes always or off; anything else keeps when-idle', () => {
  assert.equal(engineSettingsFromEnv({ IMPRINT_VERIFY_WHILE_WRITING: 'always' }).verifyWhileWriting, 'always');
  assert.equal(engineSettingsFromEnv({ IMPRINT_VERIFY_WHILE_WRITING: 'off' }).verifyWhileWriting, 'off');
  assert.equal(engineSettingsFromEnv({ IMPRINT_VERIFY_WHILE_WRITING: 'sometimes' }).verifyWhileWriting, 'when-idle');
});

test('IMPRINT_XZ_DECODER and IMPRINT_BZIP2_DECODER =builtin choose the in-process decoders', () => {
  assert.deepEqual(engineSettingsFromEnv({ IMPRINT_XZ_DECODER: 'builtin' }).decoders, { xz: 'builtin' });
  assert.deepEqual(engineSettingsFromEnv({ IMPRINT_BZIP2_DECODER: 'builtin', IMPRINT_XZ_DECODER: 'system' }).decoders, { bzip2: 'builtin' });
});
