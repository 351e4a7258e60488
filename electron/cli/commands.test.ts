import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { COMMANDS, usage } from './commands';

test('every registered command loads, with its help and its run, and is listed in the usage', () => {
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const command = entry.load();
    assert.equal(typeof command?.run, 'function', `${name} has no run()`);
    assert.match(command.help, new RegExp(`imprint ${name}`), `${name}'s help names it`);
    assert.match(usage(), new RegExp(`\\n  ${name} +${entry.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  }
});
