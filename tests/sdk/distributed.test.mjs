// Services in separate processes: a chat service (`wattos serve --service chat`) behind
// the gateway (`services.chat_url`), sharing one store. The gateway authenticates and
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

let dir, chat, gateway, token;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattos-dist-'));
  chat = await startWattos({ binary, dir, service: 'chat', env: { WATTOS_GATEWAY_IDENTITY_SECRET: secret } });
  gateway = await startWattos({
    binary, dir,
    env: { WATTOS_GATEWAY_IDENTITY_SECRET: secret, WATTOS_SERVICES_CHAT_URL: `http://127.0.0.1:${chat.port}` },
  });
  const login = await call(`http://127.0.0.1:${gateway.port}`, 'POST', '/api/v1/auth/login',
    { email: 'admin@localhost', password: chat.password });
  assert.equal(login.status, 200, JSON.stringify(login.json));
  token = login.json.access_token;
});

after(async () => {
  await stopWattos(gateway);
  await stopWattos(chat);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a conversation through the gateway is served by the chat process', async () => {
  const base = `http://127.0.0.1:${gateway.port}`;
  const created = await call(base, 'POST', '/api/v1/conversations', { title: 'Verteilt' }, token);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const res = await fetch(`${base}/api/v1/conversations/${created.json.id}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ content: 'Hallo?' }),
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /event: done/);
  const listed = await call(base, 'GET', '/api/v1/conversations', null, token);
  assert.equal(listed.json.items[0].title, 'Verteilt');
});

test('the chat process trusts the gateway\'s signature, nothing else', async () => {
  const direct = `http://127.0.0.1:${chat.port}`;
  assert.equal((await call(direct, 'GET', '/api/v1/conversations')).status, 401);
  const forged = await fetch(`${direct}/api/v1/conversations`, {
    headers: { 'X-WattOS-Identity': 'v1.eyJ1c2VyIjoiYWRtaW4ifQ.forged' },
  });
  assert.equal(forged.status, 401);
});
