// Services in separate processes: two chat replicas (`wattos serve --service chat`)
// behind the gateway (`services.chat_url` with both URLs), sharing one store. The gateway authenticates and
// forwards with the signed identity; the chat service trusts only that signature; the
// streamed answer passes through the gateway as it is written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWattos, stopWattos, call } from './wattos.mjs';

const binary = process.env.WATTOS_TEST_BINARY;
if (!binary) throw new Error('WATTOS_TEST_BINARY must name the wattos executable');
const secret = 'distributed-test-identity-secret-0123456789';

let dir, chat, chat2, gateway, token;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattos-dist-'));
  chat = await startWattos({ binary, dir, service: 'chat', env: { WATTOS_GATEWAY_IDENTITY_SECRET: secret } });
  chat2 = await startWattos({ binary, dir, service: 'chat', env: { WATTOS_GATEWAY_IDENTITY_SECRET: secret } });
  gateway = await startWattos({
    binary, dir,
    env: { WATTOS_GATEWAY_IDENTITY_SECRET: secret,
           WATTOS_SERVICES_CHAT_URL: `http://127.0.0.1:${chat.port},http://127.0.0.1:${chat2.port}` },
  });
  const login = await call(`http://127.0.0.1:${gateway.port}`, 'POST', '/api/v1/auth/login',
    { email: 'admin@localhost', password: chat.password });
  assert.equal(login.status, 200, JSON.stringify(login.json));
  token = login.json.access_token;
});

after(async () => {
  await stopWattos(gateway);
  await stopWattos(chat);
  await stopWattos(chat2);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('conversations through the gateway are served by the chat replicas, reconnects included', async () => {
  const base = `http://127.0.0.1:${gateway.port}`;
  for (let i = 0; i < 6; i++) {
    const created = await call(base, 'POST', '/api/v1/conversations', { title: `Verteilt ${i}` }, token);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const res = await fetch(`${base}/api/v1/conversations/${created.json.id}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ content: 'Hallo?' }),
    });
    assert.equal(res.status, 200);
    const messageId = res.headers.get('x-message-id');
    assert.match(await res.text(), /event: done/);
    // The reconnect reaches the replica that ran the answer (routing by conversation).
    const again = await fetch(`${base}/api/v1/conversations/${created.json.id}/messages/${messageId}/events`, {
      headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': '1' },
    });
    assert.equal(again.status, 200, `reconnect ${i}`);
    assert.match(await again.text(), /^id: 2\n/);
  }
  const listed = await call(base, 'GET', '/api/v1/conversations', null, token);
  assert.equal(listed.json.items.length, 6);
});

test('the chat process trusts the gateway\'s signature, nothing else', async () => {
  const direct = `http://127.0.0.1:${chat.port}`;
  assert.equal((await call(direct, 'GET', '/api/v1/conversations')).status, 401);
  const forged = await fetch(`${direct}/api/v1/conversations`, {
    headers: { 'X-WattOS-Identity': 'v1.eyJ1c2VyIjoiYWRtaW4ifQ.forged' },
  });
  assert.equal(forged.status, 401);
});
