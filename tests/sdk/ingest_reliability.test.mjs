// Reliability of ingestion under worker crashes: 1,000 documents are queued while two
// worker processes (`wattos serve --service ingestion`, two worker threads each) share
// the store (one SQLite file), the file store and the Redis job queue; one of them is
// killed with SIGKILL at random moments, several times, and started again. In the end
// every document is indexed exactly once: all 1,000 files (text, and every 25th HTML,
// parsed in a child process) done with their one chunk,
// exactly 1,000 chunks in the space (no duplicate), every job completed once, none dead,
// none left, and a random document is found by its own word.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWattos, stopWattos, call } from './wattos.mjs';

const binary = process.env.WATTOS_TEST_BINARY;
if (!binary) throw new Error('WATTOS_TEST_BINARY must name the wattos executable');
const redisUrl = process.env.WATTOS_TEST_REDIS_URL;
if (!redisUrl && process.env.WATTOS_TEST_REQUIRE_SERVERS === '1') throw new Error('WATTOS_TEST_REDIS_URL is not set');

const documents = 1000;
const kills = 6;
let dir;
const servers = [];

after(async () => {
  for (const s of servers) await stopWattos(s);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Seeded, so a failing run can be repeated (the seed is printed).
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('1,000 documents, two workers, kill -9 at random moments: each indexed exactly once', { skip: redisUrl ? false : 'WATTOS_TEST_REDIS_URL is not set (scripts/test.sh starts Redis)', timeout: 600000 }, async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattos-chaos-'));
  const seed = Number(process.env.WATTOS_CHAOS_SEED || Date.now() % 100000);
  console.log(`chaos seed ${seed} (WATTOS_CHAOS_SEED to repeat)`);
  const rand = random(seed);
  const shared = {
    WATTOS_DATABASE_SQLITE_PATH: join(dir, 'shared.db'),
    WATTOS_DATABASE_BUSY_TIMEOUT_MS: '20000',
    WATTOS_INGEST_FILES_DIR: join(dir, 'files'),
    WATTOS_QUEUE_BACKEND: 'redis',
    WATTOS_QUEUE_REDIS_URL: redisUrl,
    WATTOS_QUEUE_REDIS_PREFIX: `chaos${seed}`,
    WATTOS_QUEUE_LEASE_MS: '1500',
    WATTOS_QUEUE_RETRY_BASE_MS: '50',
    WATTOS_QUEUE_MAX_ATTEMPTS: '20',
    WATTOS_RATE_LIMIT_DEFAULT_PER_MINUTE: '100000',
    WATTOS_RATE_LIMIT_DEFAULT_BURST: '10000',
  };
  // The API process does no ingestion work and is never killed: it answers the checks.
  const apiDir = join(dir, 'api');
  mkdirSync(apiDir);
  const api = await startWattos({ binary, dir: apiDir, env: { ...shared, WATTOS_INGEST_WORKERS: '0' } });
  servers.push(api);
  const base = `http://127.0.0.1:${api.port}`;
  const login = await call(base, 'POST', '/api/v1/auth/login', { email: 'admin@localhost', password: api.password });
  assert.equal(login.status, 200, JSON.stringify(login.json));
  const admin = login.json.access_token;

  const docsDir = join(dir, 'docs');
  mkdirSync(docsDir);
  // Every 25th is HTML: plain text is parsed in the worker, HTML in a child process
  // (gumbo), so both ways are killed mid-flight.
  const fileName = (i) => `doc${String(i).padStart(4, '0')}.${i % 25 === 0 ? 'html' : 'txt'}`;
  for (let i = 0; i < documents; i++) {
    const text = `Sein eigenes Wort ist wort${i}x, sonst steht hier wenig.`;
    writeFileSync(join(docsDir, fileName(i)), i % 25 === 0
      ? `<!DOCTYPE html><html><head><title>Dokument ${i}</title></head><body><h1>Dokument ${i} der Zuverlässigkeitsprüfung</h1><p>${text}</p></body></html>`
      : `Dokument ${i} der Zuverlässigkeitsprüfung.\n\n${text}`);
  }

  const workerDirs = [join(dir, 'worker-a'), join(dir, 'worker-b')];
  const start = async (i) => {
    mkdirSync(workerDirs[i], { recursive: true });
    return startWattos({ binary, dir: workerDirs[i], service: 'ingestion', env: { ...shared, WATTOS_INGEST_WORKERS: '2' } });
  };
  const workers = [await start(0), await start(1)];
  servers.push(...workers);

  // The operator queues the documents (the workers start on them at once).
  const queued = spawnSync(binary, ['ingest', '--no-wait', '--create', '--space', 'Zuverlaessig', docsDir], {
    env: { ...process.env, ...shared, WATTOS_DATA_DIR: join(dir, 'cli'), WATTOS_INGEST_WORKERS: '0' },
    encoding: 'utf8', timeout: 300000,
  });
  assert.equal(queued.status, 0, queued.stdout + queued.stderr);
  assert.match(queued.stdout, /1000 files submitted/);
  const space = (await call(base, 'GET', '/api/v1/spaces/Zuverlaessig', null, admin)).json;
  assert.ok(space.id, JSON.stringify(space));

  const statusCounts = async () => {
    const r = await call(base, 'GET', `/api/v1/spaces/${space.id}/files`, null, admin);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const counts = {};
    for (const f of r.json.items) counts[f.status] = (counts[f.status] || 0) + 1;
    return { counts, items: r.json.items };
  };

  // Chaos: kill one worker with SIGKILL at a random moment, start it again.
  for (let k = 0; k < kills; k++) {
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(rand() * 1500)));
    const victim = Math.floor(rand() * 2);
    const child = workers[victim].child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const { counts } = await statusCounts();
    console.log(`kill ${k + 1}: worker ${victim} (done so far: ${counts.done || 0})`);
    workers[victim] = await start(victim);
    servers.push(workers[victim]);
  }

  const deadline = Date.now() + 400000;
  let last;
  while (Date.now() < deadline) {
    last = await statusCounts();
    if ((last.counts.done || 0) + (last.counts.failed || 0) === documents) break;
    await new Promise((resolve) => setTimeout(resolve, 500));  // polling the API for progress, bounded by the deadline
  }
  assert.deepEqual(last.counts, { done: documents }, 'every document ends indexed');
  for (const f of last.items) assert.equal(f.chunks, 1, `${f.filename}: ${f.chunks} chunks`);
  const after = (await call(base, 'GET', `/api/v1/spaces/${space.id}`, null, admin)).json;
  assert.equal(after.chunks, documents, 'no duplicate chunk');
  const queue = (await call(base, 'GET', '/api/v1/admin/ingest/queue', null, admin)).json;
  assert.equal(queue.counts.completed, documents, JSON.stringify(queue));
  assert.equal(queue.counts.dead, 0);
  assert.equal(queue.counts.waiting + queue.counts.active + queue.counts.delayed, 0);

  const probe = Math.floor(rand() * documents);
  const hits = await call(base, 'POST', `/api/v1/spaces/${space.id}/search`, { query: `wort${probe}x`, mode: 'lexical', k: 3 }, admin);
  assert.equal(hits.status, 200);
  assert.equal(hits.json.hits.length, 1);
  const wanted = last.items.find((f) => f.filename === fileName(probe));
  assert.equal(hits.json.hits[0].document_id, wanted.id);
});
