import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import type { Result } from '../../shared/ipc-contract';
import { ImprintService } from '../service/imprint-service';
import { dispatchUntrusted } from '../service/dispatch';
import { guardedCall, isIndexUrl, senderProblem, type CallSender } from './ipc-guard';

const INDEX = pathToFileURL('/opt/Imprint/resources/app.asar/out/renderer/index.html').href;
const ours: CallSender = { isOurMainFrame: true, url: INDEX };

test('isIndexUrl: our index.html (any query or hash) and nothing else', () => {
  assert.equal(isIndexUrl(INDEX, INDEX), true);
  assert.equal(isIndexUrl(`${INDEX}?step=2#targets`, INDEX), true);
  assert.equal(isIndexUrl(INDEX.replace('index.html', 'other.html'), INDEX), false);
  assert.equal(isIndexUrl('file:///etc/passwd', INDEX), false);
  assert.equal(isIndexUrl(INDEX.replace('file://', 'https://'), INDEX), false);
  assert.equal(isIndexUrl('https://evil.example/opt/Imprint/resources/app.asar/out/renderer/index.html', INDEX), false);
  assert.equal(isIndexUrl('file://evil.example/opt/Imprint/resources/app.asar/out/renderer/index.html', INDEX), false, 'a UNC-style host');
  assert.equal(isIndexUrl('about:blank', INDEX), false);
  assert.equal(isIndexUrl('not a url', INDEX), false);
});

test('senderProblem: a subframe, a gone frame, or a foreign page is refused', () => {
  assert.equal(senderProblem(ours, INDEX), null);
  assert.match(senderProblem({ isOurMainFrame: false, url: INDEX }, INDEX) ?? '', /main frame/);
  assert.match(senderProblem({ isOurMainFrame: true, url: null }, INDEX) ?? '', /gone/);
  assert.match(senderProblem({ isOurMainFrame: true, url: 'https://evil.example/' }, INDEX) ?? '', /evil\.example/);
});

/** Counts what reaches the service. */
function spyDispatch(service: ImprintService): { calls: string[]; dispatch: (n: string, p: unknown) => Promise<Result<unknown>> } {
  const calls: string[] = [];
  return {
    calls,
    dispatch: (n, p) => {
      calls.push(n);
      return dispatchUntrusted(service, n, p);
    },
  };
}

test('a call from an unexpected frame never reaches the service, whatever its payload', async () => {
  const service = new ImprintService({ listDrives: async () => [], log: () => undefined });
  try {
    const spy = spyDispatch(service);
    const logged: string[] = [];
    for (const sender of [{ isOurMainFrame: false, url: INDEX }, { isOurMainFrame: true, url: 'https://evil.example/' }, { isOurMainFrame: true, url: null }]) {
      const r = await guardedCall(sender, INDEX, 'listDrives', {}, spy.dispatch, (m) => logged.push(m));
      assert.deepEqual(r, { ok: false, error: { code: 'E_PERMISSION', message: 'Refused: this call did not come from the Imprint window.' } });
    }
    assert.deepEqual(spy.calls, []);
    assert.equal(logged.length, 3);
    assert.match(logged[1] ?? '', /refused IPC call listDrives/);
  } finally {
    await service.dispose();
  }
});

test('from our window, a payload that fails its schema is E_BAD_ARGUMENTS; a valid one is answered by the service', async () => {
  const service = new ImprintService({ listDrives: async () => [], log: () => undefined });
  try {
    const spy = spyDispatch(service);
    const bad = await guardedCall(ours, INDEX, 'startFlash', { image: '/a.img', targets: '/dev/sdb', verify: true }, spy.dispatch);
    assert.equal(bad.ok ? null : bad.error.code, 'E_BAD_ARGUMENTS');
    const unknown = await guardedCall(ours, INDEX, 'runShell', {}, spy.dispatch);
    assert.equal(unknown.ok ? null : unknown.error.code, 'E_BAD_ARGUMENTS');
    const good = await guardedCall(ours, INDEX, 'listDrives', {}, spy.dispatch);
    assert.deepEqual(good, { ok: true, value: [] });
    assert.deepEqual(spy.calls, ['startFlash', 'runShell', 'listDrives']);
  } finally {
    await service.dispose();
  }
});
