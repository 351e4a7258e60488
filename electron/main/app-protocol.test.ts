import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeProtocol, installFakeElectron } from './testing/fake-electron';

installFakeElectron();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { APP_SCHEME, appFileFor, handleAppProtocol, registerAppScheme } = require('./app-protocol') as typeof import('./app-protocol');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { INDEX_URL, WINDOW_CSP } = require('./app-paths') as typeof import('./app-paths');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isIndexUrl } = require('./ipc-guard') as typeof import('./ipc-guard');

/** A renderer folder with index.html and app.js, beside a secret the handler must never serve. */
function site(): { root: string; secret: string; cleanup(): void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-proto-'));
  const root = path.join(base, 'renderer');
  fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>Imprint</title>');
  fs.writeFileSync(path.join(root, 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(root, 'assets', 'icon.svg'), '<svg/>');
  const secret = path.join(base, 'secret.txt');
  fs.writeFileSync(secret, 'SECRET');
  fs.writeFileSync(path.join(base, 'renderer-evil.txt'), 'SECRET');
  return { root, secret, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

test('the scheme is registered privileged as standard and secure, and nothing more', () => {
  registerAppScheme(fakeProtocol as never);
  assert.deepEqual(fakeProtocol.privileged, [
    { scheme: 'imprint', privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false, allowServiceWorkers: false, bypassCSP: false, stream: false } },
  ]);
  assert.equal(INDEX_URL, 'imprint://app/index.html');
  assert.equal(isIndexUrl(`${INDEX_URL}#restore`, INDEX_URL), true);
  assert.equal(isIndexUrl('imprint://app/other.html', INDEX_URL), false);
  assert.equal(isIndexUrl('imprint://evil/index.html', INDEX_URL), false);
  assert.equal(isIndexUrl('file:///index.html', INDEX_URL), false);
});

test('protocol.handle serves the renderer folder with the strict CSP and right types', async () => {
  const s = site();
  try {
    handleAppProtocol(fakeProtocol as never, s.root);
    const handler = fakeProtocol.handlers.get(APP_SCHEME);
    assert.ok(handler, 'no handler for the scheme');
    // The handler reads only url and method: Node's Request refuses a custom scheme, so a plain object stands in.
    const ask = async (url: string, method = 'GET') => handler({ url, method } as Request);
    const index = await ask(INDEX_URL);
    assert.equal(index.status, 200);
    assert.equal(await index.text(), '<!doctype html><title>Imprint</title>');
    assert.equal(index.headers.get('content-security-policy'), WINDOW_CSP);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal((await ask('imprint://app/app.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await (await ask('imprint://app/assets/icon.svg')).text(), '<svg/>');
    assert.equal((await ask('imprint://app/')).status, 200, 'the bare origin is index.html');
    assert.equal((await ask(INDEX_URL, 'POST')).status, 405);
    assert.equal((await ask('imprint://app/missing.js')).status, 404);
    // Encoded separators and dots survive URL parsing: the handler itself must refuse them.
    for (const url of ['imprint://app/%2E%2E%2Fsecret.txt', 'imprint://app/..%2fsecret.txt', 'imprint://app/..%5csecret.txt', 'imprint://app/assets/..%2F..%2Fsecret.txt', 'imprint://app/..%00/x']) {
      assert.equal(appFileFor(url, s.root), null, url);
    }
  } finally {
    s.cleanup();
  }
});

test('path traversal is refused, literal and encoded, and nothing outside the folder is read', async () => {
  const s = site();
  try {
    handleAppProtocol(fakeProtocol as never, s.root);
    const handler = fakeProtocol.handlers.get(APP_SCHEME) as (r: Request) => Promise<Response>;
    const attempts = [
      'imprint://app/../../etc/passwd',
      'imprint://app/../secret.txt',
      'imprint://app/%2e%2e/secret.txt',
      'imprint://app/%2E%2E%2Fsecret.txt',
      'imprint://app/..%2fsecret.txt',
      'imprint://app/..%5csecret.txt',
      'imprint://app/assets/..%2F..%2Fsecret.txt',
      'imprint://app/%252e%252e/secret.txt',
      'imprint://app/..%00/secret.txt',
      'imprint://app//etc/passwd',
      'imprint://app/%2Fetc%2Fpasswd',
      'imprint://app/../renderer-evil.txt',
      `imprint://app/${encodeURIComponent(s.secret)}`,
      'imprint://other/index.html',
      'imprint://app:99/index.html',
      'imprint://user@app/index.html',
      'file:///etc/passwd',
    ];
    for (const url of attempts) {
      const file = appFileFor(url, s.root);
      // Chromium (and Node's URL) fold literal dot segments before the handler sees them; what is left must stay inside the folder.
      assert.ok(file === null || file.startsWith(s.root + path.sep), `${url} -> ${file}`);
      const r = await handler({ url, method: 'GET' } as Request);
      const body = await r.text();
      assert.notEqual(r.status, 200, `${url} was served: ${body}`);
      assert.ok(!body.includes('SECRET') && !body.includes('root:'), `${url} leaked: ${body}`);
    }
    // Encoded separators and dots survive URL parsing: the handler itself must refuse them.
    for (const url of ['imprint://app/%2E%2E%2Fsecret.txt', 'imprint://app/..%2fsecret.txt', 'imprint://app/..%5csecret.txt', 'imprint://app/assets/..%2F..%2Fsecret.txt', 'imprint://app/..%00/x']) {
      assert.equal(appFileFor(url, s.root), null, url);
    }
  } finally {
    s.cleanup();
  }
});
