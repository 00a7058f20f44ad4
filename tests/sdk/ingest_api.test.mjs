// The ingestion API over HTTP against a real `wattos serve`: an editor uploads real
// documents (multipart), follows their progress over SSE until they are indexed, finds
// them in search with page citations; the same content is not ingested twice; a corrupt
// and an encrypted file fail with a clear error and can be retried; a file over the size
// limit is refused with 413 and leaves nothing behind; deleting removes the chunks; a
// stranger sees nothing; an admin watches a folder and sees the queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWattos, stopWattos, call } from './wattos.mjs';

const binary = process.env.WATTOS_TEST_BINARY;
if (!binary) throw new Error('WATTOS_TEST_BINARY must name the wattos executable');
const docs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'docs');

let dir, server, base, admin, editor, stranger, spaceId;

async function login(email, password) {
  const r = await call(base, 'POST', '/api/v1/auth/login', { email, password });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.access_token;
}

async function upload(token, files) {
  const form = new FormData();
  for (const [name, bytes] of files) form.append('file', new Blob([bytes]), name);
  const res = await fetch(`${base}/api/v1/spaces/${spaceId}/files`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: form,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

// Reads the space's file events until `done(filesById)` holds; fails at the deadline.
async function follow(token, done, deadlineMs = 60000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deadlineMs);
  const seen = new Map();
  const statuses = new Map();
  try {
    const res = await fetch(`${base}/api/v1/spaces/${spaceId}/files/events`, {
      headers: { Authorization: `Bearer ${token}` }, signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const part of res.body) {
      buffer += decoder.decode(part, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(raw)?.[1];
        const data = raw.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (event !== 'file') continue;
        const f = JSON.parse(data);
        seen.set(f.id, f);
        if (!statuses.has(f.id)) statuses.set(f.id, []);
        statuses.get(f.id).push(f.status);
        if (done(seen)) return { files: seen, statuses };
      }
    }
    assert.fail('the event stream ended early');
  } catch (e) {
    if (controller.signal.aborted) assert.fail(`deadline passed; last states: ${JSON.stringify([...seen.values()].map((f) => [f.filename, f.status, f.error]))}`);
    throw e;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattos-ingest-'));
  server = await startWattos({
    binary, dir,
    env: { WATTOS_INGEST_MAX_FILE_BYTES: String(3 << 20), WATTOS_INGEST_OCR: 'false', WATTOS_QUEUE_RETRY_BASE_MS: '10' },
  });
  base = `http://127.0.0.1:${server.port}`;
  admin = await login('admin@localhost', server.password);
  for (const [email, role] of [['editor@example.eu', 'editor'], ['stranger@example.eu', 'editor']]) {
    const r = await call(base, 'POST', '/api/v1/admin/users',
      { email, display_name: role, password: 'a-long-enough-passphrase', roles: [role] }, admin);
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
  editor = await login('editor@example.eu', 'a-long-enough-passphrase');
  stranger = await login('stranger@example.eu', 'a-long-enough-passphrase');
  const created = await call(base, 'POST', '/api/v1/spaces', { name: 'Verwaltung' }, editor);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  spaceId = created.json.id;
});

after(async () => {
  await stopWattos(server);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('uploaded documents are indexed, with progress over SSE, and found with page citations', async () => {
  const r = await upload(editor, [
    ['Grundgesetz.pdf', readFileSync(join(docs, 'de', 'Duetsche_Grundgesetz.pdf'))],
    ['brief.html', readFileSync(join(docs, 'de', 'docspell_letter-de.html'))],
    ['tabelle.xlsx', readFileSync(join(docs, 'en', 'markitdown_test.xlsx'))],
  ]);
  assert.equal(r.status, 202, JSON.stringify(r.json));
  assert.equal(r.json.items.length, 3);
  const ids = r.json.items.map((f) => f.id);
  for (const f of r.json.items) {
    // Workers may have started on it before the answer was written.
    assert.ok(['queued', 'parsing', 'chunking', 'embedding', 'indexing', 'done'].includes(f.status), f.status);
    assert.match(f.sha256, /^[0-9a-f]{64}$/);
  }
  const { files, statuses } = await follow(editor, (seen) => ids.every((id) => ['done', 'failed'].includes(seen.get(id)?.status)));
  for (const id of ids) assert.equal(files.get(id).status, 'done', JSON.stringify(files.get(id)));
  const pdf = files.get(ids[0]);
  assert.equal(pdf.format, 'pdf');
  assert.equal(pdf.pages, 51);
  assert.ok(pdf.chunks > 20, `chunks: ${pdf.chunks}`);
  assert.equal(files.get(ids[1]).format, 'html');
  assert.equal(files.get(ids[2]).format, 'xlsx');
  // The feed showed the steps in order (later ones may be seen alone when quick).
  const order = ['queued', 'parsing', 'chunking', 'embedding', 'indexing', 'done'];
  for (const s of statuses.values()) {
    const idx = s.map((x) => order.indexOf(x));
    assert.deepEqual([...idx].sort((a, b) => a - b), idx, `out of order: ${s}`);
  }

  const hit = await call(base, 'POST', `/api/v1/spaces/${spaceId}/search`,
    { query: 'Würde des Menschen unantastbar', mode: 'lexical', k: 3 }, editor);
  assert.equal(hit.status, 200, JSON.stringify(hit.json));
  assert.equal(hit.json.hits[0].document_id, ids[0]);
  assert.ok(hit.json.hits[0].page >= 1);
  assert.match(hit.json.hits[0].text, /unantastbar/);

  const listed = await call(base, 'GET', `/api/v1/spaces/${spaceId}/files`, null, editor);
  assert.equal(listed.status, 200);
  assert.equal(listed.json.items.length, 3);
  const one = await call(base, 'GET', `/api/v1/spaces/${spaceId}/files/${ids[1]}`, null, editor);
  assert.equal(one.status, 200);
  assert.equal(one.json.filename, 'brief.html');
});

test('the same content is not ingested twice', async () => {
  const again = await upload(editor, [['nochmal.html', readFileSync(join(docs, 'de', 'docspell_letter-de.html'))]]);
  assert.equal(again.status, 202);
  assert.equal(again.json.items[0].duplicate, true);
  assert.equal(again.json.items[0].filename, 'brief.html');
  const listed = await call(base, 'GET', `/api/v1/spaces/${spaceId}/files`, null, editor);
  assert.equal(listed.json.items.length, 3);
});

test('corrupt, encrypted and mislabelled files fail clearly, and a failed file can be retried', async () => {
  const pdf = readFileSync(join(docs, 'de', 'docspell_letter-de.pdf'));
  const r = await upload(editor, [
    ['abgeschnitten.pdf', pdf.subarray(0, Math.floor(pdf.length / 3))],
    ['geheim.pdf', readFileSync(join(docs, 'special', 'docspell_encrypted-test123.pdf'))],
    ['eigentlich-ein-pdf.txt', pdf],
  ]);
  assert.equal(r.status, 202, JSON.stringify(r.json));
  const [truncated, encrypted, renamed] = r.json.items.map((f) => f.id);
  const { files } = await follow(editor, (seen) => [truncated, encrypted, renamed].every((id) => ['done', 'failed'].includes(seen.get(id)?.status)));
  assert.equal(files.get(truncated).status, 'failed');
  assert.ok(files.get(truncated).error.length > 0);
  assert.equal(files.get(truncated).attempts, 1);
  assert.equal(files.get(encrypted).status, 'failed');
  assert.match(files.get(encrypted).error, /encrypt|password|verschl/i);
  // A PDF named .txt is read as the PDF it is.
  assert.equal(files.get(renamed).status, 'done', files.get(renamed).error);
  assert.equal(files.get(renamed).format, 'pdf');

  const retried = await call(base, 'POST', `/api/v1/spaces/${spaceId}/files/${encrypted}/retry`, null, editor);
  assert.equal(retried.status, 200, JSON.stringify(retried.json));
  // Queued again with fresh attempts (a worker may already be on it).
  assert.ok(['queued', 'parsing'].includes(retried.json.status), retried.json.status);
  assert.ok(retried.json.attempts <= 1, String(retried.json.attempts));
  assert.equal(retried.json.error, '');
  const after = await follow(editor, (seen) => seen.get(encrypted)?.status === 'failed' && seen.get(encrypted)?.attempts === 1);
  assert.equal(after.files.get(encrypted).status, 'failed');
  const notFailed = await call(base, 'POST', `/api/v1/spaces/${spaceId}/files/${renamed}/retry`, null, editor);
  assert.equal(notFailed.status, 412);
  assert.equal(notFailed.json.error.code, 'failed_precondition');
});

test('bad requests get 4xx JSON errors and leave nothing behind', async () => {
  const before = (await call(base, 'GET', `/api/v1/spaces/${spaceId}/files`, null, editor)).json.items.length;
  const big = await upload(editor, [['riesig.txt', Buffer.alloc((3 << 20) + 1024, 'a')]]);
  assert.equal(big.status, 413, JSON.stringify(big.json));
  assert.ok(big.json.error.code);
  const noFile = await fetch(`${base}/api/v1/spaces/${spaceId}/files`, {
    method: 'POST', headers: { Authorization: `Bearer ${editor}` }, body: new FormData(),
  });
  assert.equal(noFile.status, 400);
  const stranger404 = await upload(stranger, [['x.txt', 'Hallo']]);
  assert.equal(stranger404.status, 404, JSON.stringify(stranger404.json));
  assert.equal((await call(base, 'GET', `/api/v1/spaces/${spaceId}/files`, null, stranger)).status, 404);
  assert.equal((await call(base, 'GET', `/api/v1/spaces/${spaceId}/files/events`, null, stranger)).status, 404);
  assert.equal((await call(base, 'GET', `/api/v1/spaces/${spaceId}/files`, null)).status, 401);
  const after = (await call(base, 'GET', `/api/v1/spaces/${spaceId}/files`, null, editor)).json.items.length;
  assert.equal(after, before);
});

test('deleting a file removes its chunks', async () => {
  const listed = await call(base, 'GET', `/api/v1/spaces/${spaceId}/files`, null, editor);
  const letter = listed.json.items.find((f) => f.filename === 'brief.html');
  const before = await call(base, 'GET', `/api/v1/spaces/${spaceId}`, null, editor);
  const del = await fetch(`${base}/api/v1/spaces/${spaceId}/files/${letter.id}`, {
    method: 'DELETE', headers: { Authorization: `Bearer ${editor}` },
  });
  assert.equal(del.status, 204);
  const after = await call(base, 'GET', `/api/v1/spaces/${spaceId}`, null, editor);
  assert.equal(after.json.chunks, before.json.chunks - letter.chunks);
  assert.equal((await call(base, 'GET', `/api/v1/spaces/${spaceId}/files/${letter.id}`, null, editor)).status, 404);
  const hits = await call(base, 'POST', `/api/v1/spaces/${spaceId}/search`, { query: 'Kündigung', mode: 'lexical', filters: { document_ids: [letter.id] } }, editor);
  assert.equal(hits.json.hits.length, 0);
});

test('an admin watches a folder and sees the queue', async () => {
  const folder = join(dir, 'watched');
  mkdirSync(folder);
  writeFileSync(join(folder, 'notiz.md'), '# Notiz\n\nDer Serverraum ist im Keller.');
  assert.equal((await call(base, 'PUT', `/api/v1/spaces/${spaceId}/watch`, { path: folder }, editor)).status, 403);
  const set = await call(base, 'PUT', `/api/v1/spaces/${spaceId}/watch`, { path: folder }, admin);
  assert.equal(set.status, 200, JSON.stringify(set.json));
  const { files } = await follow(admin, (seen) => [...seen.values()].some((f) => f.filename === 'notiz.md' && f.status === 'done'));
  const note = [...files.values()].find((f) => f.filename === 'notiz.md');
  assert.equal(note.source, 'watch');
  assert.equal((await call(base, 'GET', `/api/v1/spaces/${spaceId}/watch`, null, editor)).json.path, set.json.path);
  const queue = await call(base, 'GET', '/api/v1/admin/ingest/queue', null, admin);
  assert.equal(queue.status, 200, JSON.stringify(queue.json));
  assert.ok(queue.json.counts.completed >= 4);
  assert.ok(queue.json.counts.dead >= 2);
  assert.equal((await call(base, 'GET', '/api/v1/admin/ingest/queue', null, editor)).status, 403);
  const removed = await fetch(`${base}/api/v1/spaces/${spaceId}/watch`, { method: 'DELETE', headers: { Authorization: `Bearer ${admin}` } });
  assert.equal(removed.status, 204);
});
