import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWsClient, type SocketLike } from './ws-client';

/** A fake WebSocket: stands in for the transport only, to check the client's framing. */
class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
    this.onclose?.({});
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

/** A client over fake sockets that reconnects 5 ms after a close; `sockets` lists every socket it opened. */
function reconnectingClient() {
  const sockets: FakeSocket[] = [];
  const api = createWsClient('ws://x/api?token=t', (u) => {
    const s = new FakeSocket(u);
    sockets.push(s);
    return s;
  }, { reconnectDelayMs: 5 });
  return { api, sockets };
}

/** Opens the first socket (which must ask nothing), drops it, opens the one the client reconnects with; its first frame. */
async function dropAndReconnect(sockets: FakeSocket[]): Promise<{ second: FakeSocket; frame: { id: number; call: string } }> {
  (sockets[0] as FakeSocket).open();
  assert.deepEqual((sockets[0] as FakeSocket).sent, [], 'the first open asks nothing: the app asks for itself');
  (sockets[0] as FakeSocket).close();
  await new Promise((r) => setTimeout(r, 30));
  const second = sockets[1] as FakeSocket;
  second.open();
  return { second, frame: JSON.parse(second.sent[0] as string) };
}

test('calls queue until the socket opens, then go as {id, call, request}; answers resolve by id', async () => {
  const sockets: FakeSocket[] = [];
  const api = createWsClient('ws://127.0.0.1:1/api?token=t', (u) => {
    const s = new FakeSocket(u);
    sockets.push(s);
    return s;
  });
  const drives = api.listDrives({});
  const inspect = api.inspectImage({ path: '/a.img' });
  assert.equal(sockets.length, 1);
  const s = sockets[0] as FakeSocket;
  assert.equal(s.url, 'ws://127.0.0.1:1/api?token=t');
  assert.deepEqual(s.sent, []);
  s.open();
  const frames = s.sent.map((t) => JSON.parse(t));
  assert.deepEqual(frames.map((f) => f.call), ['listDrives', 'inspectImage']);
  assert.deepEqual(frames[1].request, { path: '/a.img' });
  assert.notEqual(frames[0].id, frames[1].id);
  s.receive({ id: frames[1].id, result: { ok: false, error: { code: 'E_SOURCE_NOT_FOUND', message: 'no' } } });
  s.receive({ id: frames[0].id, result: { ok: true, value: [] } });
  assert.deepEqual(await drives, { ok: true, value: [] });
  assert.equal((await inspect).ok, false);
});

test('pushes reach listeners of their event; a lost connection fails calls in flight and reconnects', async () => {
  const { api, sockets } = reconnectingClient();
  const seen: unknown[] = [];
  const off = api.onJobEvent((e) => seen.push(e));
  const s = sockets[0] as FakeSocket;
  s.open();
  s.receive({ event: 'onJobEvent', payload: { type: 'warning', jobId: 'j', message: 'hi' } });
  s.receive({ event: 'onDrivesChanged', payload: [] });
  assert.equal(seen.length, 1);
  const pending = api.cancelJob({ jobId: 'j' });
  s.close();
  const result = await pending;
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.error.message, /connection/);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(sockets.length, 2, 'reconnected');
  off();
  (sockets[1] as FakeSocket).open();
  (sockets[1] as FakeSocket).receive({ event: 'onJobEvent', payload: { type: 'warning', jobId: 'j', message: 'again' } });
  assert.equal(seen.length, 1, 'unsubscribed');
  (sockets[1] as FakeSocket).onclose = null; // stop the reconnect loop
});

test('after a reconnect, drive listeners get a fresh list (changes pushed while down were lost)', async () => {
  const { api, sockets } = reconnectingClient();
  const lists: unknown[] = [];
  api.onDrivesChanged((d) => lists.push(d));
  const { second, frame } = await dropAndReconnect(sockets);
  assert.equal(frame.call, 'listDrives');
  second.receive({ id: frame.id, result: { ok: true, value: [{ device: '/dev/sdz' }] } });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lists, [[{ device: '/dev/sdz' }]]);
  second.onclose = null;
});


test('after a reconnect, job listeners get each job\'s latest state (events pushed while down were lost)', async () => {
  const { api, sockets } = reconnectingClient();
  const events: { type: string }[] = [];
  api.onJobEvent((e) => events.push(e));
  const { second, frame } = await dropAndReconnect(sockets);
  assert.equal(frame.call, 'jobSnapshots');
  const snapshot = [
    { type: 'job-started', jobId: 'j1', kind: 'flash', source: '/a.img', targets: ['/dev/sdz'], totalBytes: 10 },
    { type: 'job-finished', jobId: 'j1', ok: true, targets: [], bytes: 10 },
  ];
  second.receive({ id: frame.id, result: { ok: true, value: snapshot } });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events.map((e) => e.type), ['job-started', 'job-finished']);
  second.onclose = null;
});
