// The peer of bench/queue_bench: BullMQ on the same Redis, the same job count and the
// same concurrency (one Worker with `concurrency` slots, an empty processor), completed
// jobs kept as ours keeps them. Enqueue uses addBulk (BullMQ's fastest path).
//
// Usage: node bench/queue_bullmq.mjs REDIS_URL JOBS CONCURRENCY [PAYLOAD_BYTES]
// Prints one line: backend=bullmq jobs=N concurrency=C enqueue_per_s=... process_per_s=...
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const [url, jobsArg, concurrencyArg, payloadArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
const payload = 'x'.repeat(Number(payloadArg ?? 100));
const prefix = `bullmq-bench-${Math.random().toString(16).slice(2, 10)}`;
const name = 'bench';

const queueConnection = new IORedis(url, { maxRetriesPerRequest: null });
const workerConnection = new IORedis(url, { maxRetriesPerRequest: null });
const queue = new Queue(name, { connection: queueConnection, prefix });

let t0 = process.hrtime.bigint();
const chunk = 1000;
for (let i = 0; i < jobs; i += chunk) {
  const batch = [];
  for (let j = i; j < Math.min(jobs, i + chunk); j++) {
    batch.push({ name: 'job', data: { payload }, opts: { attempts: 3 } });
  }
  await queue.addBulk(batch);
}
const enqueueS = Number(process.hrtime.bigint() - t0) / 1e9;

let completed = 0;
let failed = 0;
let finish;
const finished = new Promise((resolve) => { finish = resolve; });
const worker = new Worker(name, async () => {}, {
  connection: workerConnection, prefix, concurrency, autorun: false,
});
worker.on('completed', () => { if (++completed + failed === jobs) finish(); });
worker.on('failed', () => { if (completed + ++failed === jobs) finish(); });
t0 = process.hrtime.bigint();
worker.run();
await finished;
const processS = Number(process.hrtime.bigint() - t0) / 1e9;

console.log(`backend=bullmq jobs=${jobs} concurrency=${concurrency} completed=${completed} errors=${failed} ` +
  `enqueue_per_s=${Math.round(jobs / enqueueS)} process_per_s=${Math.round(completed / processS)}`);
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
queueConnection.disconnect();
workerConnection.disconnect();
