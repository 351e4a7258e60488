import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ImprintError } from '../errors';
import { bypassed, proxyFor } from './proxy';
import { checkUrlAllowed, isLocalAddress, parseHttpUrl } from './url-policy';

test('local addresses: loopback, private and link-local, v4 and v6; public ones are not', () => {
  for (const a of ['127.0.0.1', '127.8.9.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.20', '169.254.3.4', '::1', 'fd00::1', 'fe80::1', '::ffff:192.168.0.1']) {
    assert.equal(isLocalAddress(a), true, a);
  }
  for (const a of ['8.8.8.8', '172.15.0.1', '172.32.0.1', '192.169.0.1', '11.0.0.1', '2001:db8::1', '::ffff:8.8.8.8']) {
    assert.equal(isLocalAddress(a), false, a);
  }
});

test('plain http: allowed on the local network, refused elsewhere unless --allow-http, which warns', async () => {
  const lookup = async (host: string): Promise<string[]> => (host === 'nas.home' ? ['192.168.1.5'] : host === 'mixed.example' ? ['192.168.1.5', '93.184.216.34'] : ['93.184.216.34']);
  await checkUrlAllowed(new URL('http://127.0.0.1:8080/os.img'), { lookup });
  await checkUrlAllowed(new URL('http://localhost/os.img'), { lookup });
  await checkUrlAllowed(new URL('http://nas.home/os.img'), { lookup });
  await checkUrlAllowed(new URL('http://[::1]/os.img'), { lookup });
  await checkUrlAllowed(new URL('https://example.org/os.img'), { lookup });
  for (const u of ['http://example.org/os.img', 'http://mixed.example/os.img', 'http://8.8.8.8/os.img']) {
    await assert.rejects(checkUrlAllowed(new URL(u), { lookup }), (err: ImprintError) => err.code === 'E_URL_REFUSED' && /--allow-http/.test(err.message), u);
  }
  const warnings: string[] = [];
  await checkUrlAllowed(new URL('http://example.org/os.img'), { lookup, allowHttp: true, onWarning: (w) => warnings.push(w) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /plain http/);
});

test('only http(s) URLs without credentials are parsed', () => {
  for (const bad of ['ftp://example.org/a.img', 'file:///etc/passwd', 'not a url', 'https://user:secret@example.org/a.img']) {
    assert.throws(() => parseHttpUrl(bad), (err: ImprintError) => err.code === 'E_URL_REFUSED' && !err.message.includes('secret'), bad);
  }
  assert.equal(parseHttpUrl('https://example.org/a.img').host, 'example.org');
});

test('proxy choice by scheme, NO_PROXY by host suffix, IP and port', () => {
  const settings = { httpsProxy: 'proxy.corp:3128', httpProxy: 'http://p2.corp:80', noProxy: '.internal, example.com:8443, 10.0.0.7' };
  assert.equal(proxyFor(new URL('https://downloads.example.org/a'), settings)?.host, 'proxy.corp:3128');
  assert.equal(proxyFor(new URL('http://downloads.example.org/a'), settings)?.host, 'p2.corp');
  assert.equal(proxyFor(new URL('https://a.b.internal/x'), settings), null);
  assert.equal(proxyFor(new URL('https://example.com:8443/x'), settings), null);
  assert.notEqual(proxyFor(new URL('https://example.com/x'), settings), null, 'another port is not bypassed');
  assert.equal(proxyFor(new URL('http://10.0.0.7/x'), settings), null);
  assert.equal(bypassed(new URL('https://anything/'), '*'), true);
  assert.equal(bypassed(new URL('https://notinternal/'), 'internal'), false);
  assert.equal(proxyFor(new URL('https://x/'), {}), null);
});
