// `npm run bench`: taskforge side by side with what a user would write instead,
// in one run, interleaved round by round (the shared disk is noisy, and file
// creation slows after mass deletes, so nothing is deleted until the end).
// Each measurement runs in its own child process, so its peak RSS is its own.
// Options: --rounds N (default 5), --suite core|codec|peers|orchestrator|s3|all, --small-count N (default 10000),
// --skip-gib, --queue-count N (1000000), --random-count N (200000), --sqlite-count N (50000), --cli-count N (10000), --s3-mib N (64),
// --redis-count N (20000), --redis-workers LIST (1,2,4), --http-count N (10000), --tree-source DIR (/usr/share/doc),
// --read-count N (20000), --list-count N (20000), --scheduler-count N (300000); suites redis, http, trees,
// reads (small-reads, cache-hits, listings, large-reads), scheduler, hot-paths (the rows of the hot-paths issue, in one run)
// and writes (the small writes through `taskforge run` alone) also.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CodecSpec } from './codec-scenarios.js';
import { hasTool, type PeerSpec } from './peer-scenarios.js';
import type { Measurement, ScenarioName } from './scenarios.js';
import type { QueueSpec } from './orchestrator-scenarios.js';
import type { S3Spec } from './s3-scenarios.js';
import { startS3Server } from '../test/helpers/s3-server.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import type { RedisSpec } from './redis-scenarios.js';
import type { HttpSpec } from './http-scenarios.js';
import type { TreeSpec } from './tree-scenarios.js';
import type { LargeReadSpec, ReadSpec } from './read-scenarios.js';

type OrchestratorScenarioName = 'httpSubmit' | 'redisNoop' | 's3TaskWrite' | 'bareS3Upload' | 'orchestratorNoop' | 'pQueueNoop' | 'pQueueBare' | 'sqliteQueueNoop' | 'cliRunWrites' | 'handWrittenWrites';
type ReadScenarioName = 'taskLargeReads' | 'taskSmallReads' | 'readFileSmallReads' | 'taskCacheHits' | 'statSmallFiles' | 'taskListPages' | 'bareListing';
type CodecScenarioName = 'storageTaskCodecWrite' | 'storageTaskCodecRead' | 'rawCodecWrite' | 'rawCodecRead' | 'storageTaskFromFile' | 'resticBackup' | 'rcloneCryptCopy' | 'treeTaskforge' | 'treeRestic';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'small-count': { type: 'string', default: '10000' },
    'noop-count': { type: 'string', default: '200000' },
    'skip-gib': { type: 'boolean', default: false },
    'queue-count': { type: 'string', default: '1000000' },
    'random-count': { type: 'string', default: '200000' },
    'sqlite-count': { type: 'string', default: '50000' },
    'cli-count': { type: 'string', default: '10000' },
    's3-mib': { type: 'string', default: '64' },
    'redis-count': { type: 'string', default: '20000' },
    'redis-workers': { type: 'string', default: '1,2,4' },
    'http-count': { type: 'string', default: '10000' },
    'tree-source': { type: 'string', default: '/usr/share/doc' },
    'read-count': { type: 'string', default: '20000' },
    'scheduler-count': { type: 'string', default: '300000' },
    'list-count': { type: 'string', default: '20000' },
    suite: { type: 'string', default: 'all' },
    'codec-mib': { type: 'string', default: '1024' },
    'codec-filter': { type: 'string', default: '' },
    out: { type: 'string', default: 'bench/results/latest.json' }, // raw figures of the last run, not committed
  },
});
const rounds = Number(values.rounds);
const smallCount = Number(values['small-count']);
const noopCount = Number(values['noop-count']);
const suite = values.suite;
const codecMiB = Number(values['codec-mib']);
const queueCount = Number(values['queue-count']);
const randomCount = Number(values['random-count']);
const sqliteCount = Number(values['sqlite-count']);
const cliCount = Number(values['cli-count']);

interface Sample extends Measurement {
  readonly peakRssMiB: number;
}

const workDir = await mkdtemp(join(process.env['TASKFORGE_BENCH_DIR'] ?? tmpdir(), 'taskforge-bench-'));
let runIndex = 0;

function runChild(scenario: ScenarioName | CodecScenarioName | OrchestratorScenarioName | ReadScenarioName, directory: string, argument: number | CodecSpec | PeerSpec | QueueSpec | S3Spec | RedisSpec | HttpSpec | TreeSpec | ReadSpec | LargeReadSpec = 0): Sample {
  // Compiled JavaScript, not tsx, so that a loader's memory is not in the RSS figures.
  const arg = typeof argument === 'number' ? String(argument) : JSON.stringify(argument);
  // --expose-gc: the orchestrator scenarios weigh the heap of a queued task after a full collection.
  const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(new URL('child.js', import.meta.url)), scenario, directory, arg], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (child.status !== 0) throw new Error(`${scenario} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as Sample;
}

/**
 * Writes back what earlier runs left dirty before the next one starts: a
 * run that fsyncs (taskforge's writes, the hand-written loop) otherwise
 * shares the disk with the writeback of whatever ran before it (a restore
 * or a batch file), which slowed the first small-writes rounds by a third.
 */
function settleDisk(): void {
  spawnSync('sync');
}

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Runs each contender once per round, rotating the order so none always goes first. */
function compare(title: string, contenders: readonly { label: string; run: (round: number) => Sample }[], roundCount = rounds): { title: string; rows: Row[] } {
  const samples = new Map<string, Sample[]>(contenders.map((contender) => [contender.label, []]));
  for (let round = 0; round < roundCount; round += 1) {
    for (let offset = 0; offset < contenders.length; offset += 1) {
      const contender = contenders[(round + offset) % contenders.length];
      if (contender === undefined) continue;
      settleDisk();
      const sample = contender.run(round);
      samples.get(contender.label)?.push(sample);
      const extra = `${sample.ratio === undefined ? '' : `, ratio ${sample.ratio.toFixed(3)}`}${sample.loopP99Ms === undefined ? '' : `, loop p99 ${sample.loopP99Ms.toFixed(1)} ms`}${sample.bytesPerQueuedTask === undefined ? '' : `, ${sample.bytesPerQueuedTask.toFixed(0)} B per queued task`}${sample.workerPeakRssMiB === undefined ? '' : `, workers ${sample.workerPeakRssMiB.toFixed(0)} MiB`}${sample.latencyP50Ms === undefined ? '' : `, latency p50 ${sample.latencyP50Ms.toFixed(2)} ms p99 ${(sample.latencyP99Ms ?? 0).toFixed(2)} ms`}${sample.completedPerSecond === undefined ? '' : `, all written at ${sample.completedPerSecond.toFixed(0)}/s`}${sample.serverCpuUsPerOp === undefined ? '' : `, server CPU ${sample.serverCpuUsPerOp.toFixed(0)} µs/request (${(sample.serverCpuUsPerAnswer ?? 0).toFixed(0)} to the last answer), client CPU ${(sample.clientCpuUsPerOp ?? 0).toFixed(0)} µs/request`}`;
      process.stderr.write(`  ${title} / ${contender.label} round ${round + 1}: ${sample.perSecond.toFixed(1)} ${sample.unit}, ${sample.peakRssMiB.toFixed(0)} MiB${extra}\n`);
    }
  }
  const rows = contenders.map(({ label }) => {
    const list = samples.get(label) ?? [];
    return {
      label,
      unit: list[0]?.unit ?? 'ops/s',
      median: median(list.map((sample) => sample.perSecond)),
      runs: list.map((sample) => Number(sample.perSecond.toFixed(1))),
      peakRssMiB: median(list.map((sample) => sample.peakRssMiB)),
      ...(list[0]?.ratio === undefined ? {} : { ratio: median(list.map((sample) => sample.ratio ?? 0)) }),
      ...(list[0]?.loopP99Ms === undefined ? {} : { loopP99Ms: median(list.map((sample) => sample.loopP99Ms ?? 0)) }),
      ...(list[0]?.bytesPerQueuedTask === undefined ? {} : { bytesPerQueuedTask: median(list.map((sample) => sample.bytesPerQueuedTask ?? 0)) }),
      ...(list[0]?.workerPeakRssMiB === undefined ? {} : { workerPeakRssMiB: median(list.map((sample) => sample.workerPeakRssMiB ?? 0)) }),
      ...(list[0]?.latencyP50Ms === undefined ? {} : { latencyP50Ms: median(list.map((sample) => sample.latencyP50Ms ?? 0)), latencyP99Ms: median(list.map((sample) => sample.latencyP99Ms ?? 0)) }),
      ...(list[0]?.completedPerSecond === undefined ? {} : { completedPerSecond: median(list.map((sample) => sample.completedPerSecond ?? 0)) }),
      ...(list[0]?.serverCpuUsPerOp === undefined ? {} : { serverCpuUsPerOp: median(list.map((sample) => sample.serverCpuUsPerOp ?? 0)) }),
      ...(list[0]?.serverCpuUsPerAnswer === undefined ? {} : { serverCpuUsPerAnswer: median(list.map((sample) => sample.serverCpuUsPerAnswer ?? 0)) }),
      ...(list[0]?.clientCpuUsPerOp === undefined ? {} : { clientCpuUsPerOp: median(list.map((sample) => sample.clientCpuUsPerOp ?? 0)) }),
    };
  });
  return { title, rows };
}

interface Row {
  readonly label: string;
  readonly unit: string;
  readonly median: number;
  readonly runs: number[];
  readonly peakRssMiB: number;
  readonly ratio?: number;
  readonly loopP99Ms?: number;
  readonly bytesPerQueuedTask?: number;
  readonly workerPeakRssMiB?: number;
  readonly latencyP50Ms?: number;
  readonly latencyP99Ms?: number;
  readonly completedPerSecond?: number;
  readonly serverCpuUsPerOp?: number;
  readonly serverCpuUsPerAnswer?: number;
  readonly clientCpuUsPerOp?: number;
}

function freshDir(label: string): string {
  runIndex += 1;
  return join(workDir, `${String(runIndex).padStart(3, '0')}-${label}`);
}

const sections: { title: string; rows: Row[] }[] = [];
try {
  process.stderr.write(`taskforge bench: ${rounds} rounds, work dir ${workDir}\n`);
  if (suite === 'all' || suite === 'codec') sections.push(...codecSections());
  if (suite === 'all' || suite === 'peers') sections.push(...peerSections());
  if (suite === 'all' || suite === 'core') coreSections();
  if (suite === 'all' || suite === 'orchestrator') orchestratorSections();
  if (suite === 'writes') smallWriteSections();
  if (suite === 'scheduler') schedulerSections();
  if (suite === 'all' || suite === 's3') await s3Sections();
  if (suite === 'all' || suite === 'redis') await redisSections();
  if (suite === 'all' || suite === 'http') httpSections();
  if (suite === 'all' || suite === 'trees') treeSections();
  if (suite === 'all' || suite === 'reads' || suite === 'small-reads') smallReadSections();
  if (suite === 'all' || suite === 'reads' || suite === 'cache-hits') cacheHitSections();
  if (suite === 'all' || suite === 'reads' || suite === 'listings') listingSections();
  if (suite === 'all' || suite === 'reads' || suite === 'large-reads') largeReadSections();
  if (suite === 'hot-paths') await hotPathSections();
} finally {
  await rm(workDir, { recursive: true, force: true });
}

function coreSections(): void {
  sections.push(
    compare(`${smallCount} sequential 4 KiB writes`, [
      { label: 'StorageTask (atomic + durable)', run: () => runChild('storageTaskSmallWrites', freshDir('st'), smallCount) },
      { label: 'fs.promises.writeFile (no fsync)', run: () => runChild('writeFileSmallWrites', freshDir('wf'), smallCount) },
      { label: 'hand-written temp+fsync+rename', run: () => runChild('rawDurableSmallWrites', freshDir('raw'), smallCount) },
    ]),
  );
  if (!values['skip-gib']) {
    const gibDirs = Array.from({ length: rounds }, () => freshDir('gib'));
    sections.push(
      compare('1 GiB streamed write', [
        { label: 'StorageTask write', run: (round) => runChild('storageTaskGibWrite', gibDirs[round] ?? '') },
        { label: 'raw fs stream pipeline + fsync', run: () => runChild('rawGibWrite', freshDir('gib-raw')) },
      ]),
    );
    sections.push(
      compare('1 GiB streamed read (page cache warm)', [
        { label: 'StorageTask read (as: stream)', run: (round) => runChild('storageTaskGibRead', gibDirs[round] ?? '') },
        { label: 'raw fs.createReadStream', run: (round) => runChild('rawGibRead', gibDirs[round] ?? '') },
      ]),
    );
  }
  sections.push(
    compare(`${noopCount} cached 4 KiB reads`, [
      { label: 'StorageTask read, cache hit', run: () => runChild('cachedTaskReads', freshDir('cache'), noopCount) },
      { label: 'bare lru-cache get', run: () => runChild('bareLruGets', workDir, noopCount) },
    ]),
  );
  sections.push(
    compare(`${noopCount} no-op executions`, [
      { label: 'no-op task execute()', run: () => runChild('noopTaskExecute', workDir, noopCount) },
      { label: 'bare async call', run: () => runChild('bareAsyncCall', workDir, noopCount) },
    ]),
  );
}

/** The orchestrator against p-queue doing the same work; the SQLite queue; small writes through `taskforge run`. */
function orchestratorSections(): void {
  const noop = (label: string, count: number, concurrency: number, priorities: QueueSpec['priorities'], roundCount = rounds): void => {
    const spec: QueueSpec = { count, concurrency, priorities };
    sections.push(
      compare(
        `${String(count)} no-op tasks queued up front, ${priorities === 'same' ? 'one priority' : 'random priorities'}, concurrency ${String(concurrency)}${label}`,
        [
          { label: 'taskforge Orchestrator (memory queue)', run: () => runChild('orchestratorNoop', workDir, spec) },
          { label: 'p-queue, same tasks', run: () => runChild('pQueueNoop', workDir, spec) },
        ],
        roundCount,
      ),
    );
  };
  for (const concurrency of [1, 100]) noop('', queueCount, concurrency, 'same');
  for (const concurrency of [1, 100]) noop('', randomCount, concurrency, 'random');
  // p-queue inserts with a sorted splice: a million random priorities take it minutes a run, so one round.
  if (randomCount < queueCount) for (const concurrency of [1, 100]) noop(' (one round)', queueCount, concurrency, 'random', 1);
  for (const concurrency of [1, 100]) {
    const spec: QueueSpec = { count: sqliteCount, concurrency, priorities: 'random' };
    sections.push(
      compare(`${String(sqliteCount)} no-op tasks, random priorities, concurrency ${String(concurrency)}: durable SQLite queue`, [
        { label: 'taskforge Orchestrator (SQLite queue)', run: () => runChild('sqliteQueueNoop', freshDir('sqlite'), spec) },
        { label: 'taskforge Orchestrator (memory queue)', run: () => runChild('orchestratorNoop', workDir, spec) },
      ]),
    );
  }
  smallWriteSections();
}

/**
 * The scheduler against bare p-queue running `async () => 1`: no task
 * objects on its side at all. 300,000 at one priority, 100,000 at
 * priorities 0-9, concurrency 100, all queued up front.
 */
/**
 * The rows of the hot-paths issue, each beside its peer, in one run: the
 * scheduler, the encryption-only write against rclone, the four read paths,
 * HTTP submissions, Redis (with --redis-workers, 1 for the row) and S3.
 */
async function hotPathSections(): Promise<void> {
  schedulerSections();
  sections.push(...peerSections('encrypted only'));
  smallReadSections();
  cacheHitSections();
  listingSections();
  largeReadSections();
  httpSections();
  await redisSections();
  await s3Sections();
}

function schedulerSections(): void {
  const cases: [number, QueueSpec['priorities'], string][] = [
    [Number(values['scheduler-count']), 'same', 'one priority'],
    [Math.round(Number(values['scheduler-count']) / 3), 'ten', 'priorities 0-9'],
  ];
  for (const [count, priorities, what] of cases) {
    const spec: QueueSpec = { count, concurrency: 100, priorities };
    sections.push(
      compare(`${String(count)} no-op tasks queued up front, ${what}, concurrency 100`, [
        { label: 'taskforge Orchestrator (memory queue)', run: () => runChild('orchestratorNoop', workDir, spec) },
        { label: 'bare p-queue, async () => 1', run: () => runChild('pQueueBare', workDir, spec) },
      ]),
    );
  }
}

/** Small durable writes through `taskforge run` against the hand-written loop. */
function smallWriteSections(): void {
  const writes: QueueSpec = { count: cliCount, concurrency: 8, priorities: 'same' };
  sections.push(
    compare(`${String(cliCount)} small (4 KiB) durable writes, concurrency 8`, [
      { label: 'taskforge run (CLI, process start incl.)', run: () => runChild('cliRunWrites', freshDir('cli'), writes) },
      { label: 'hand-written p-queue + fsync + rename', run: () => runChild('handWrittenWrites', freshDir('hand'), writes) },
    ]),
  );
}

/**
 * Task submissions over HTTP to `taskforge serve` (each checked: every task
 * completed, every object holds what was sent), beside the HTTP floor (the
 * same client against a fastify route that does nothing) and the
 * hand-written peer (a fastify route that makes the same durable write).
 */
function httpSections(): void {
  const count = Number(values['http-count']);
  const spec = (kind: HttpSpec['kind']): HttpSpec => ({ count, concurrency: 32, kind });
  sections.push(
    compare(`${String(count)} task submissions over HTTP, 32 in flight`, [
      { label: 'taskforge serve (POST /tasks, a write each)', run: () => runChild('httpSubmit', freshDir('http'), spec('taskforge')) },
      { label: 'bare fastify route answering 202', run: () => runChild('httpSubmit', freshDir('http-floor'), spec('floor')) },
      { label: 'fastify route + hand-written durable write', run: () => runChild('httpSubmit', freshDir('http-durable'), spec('durable')) },
    ]),
  );
}

/** No-op tasks through taskforge's Redis queue against bare BullMQ, on one redis-server started here, with 1, 2 and 4 worker processes. */
async function redisSections(): Promise<void> {
  const server = await startRedisServer();
  try {
    const count = Number(values['redis-count']);
    for (const workers of values['redis-workers'].split(',').map(Number)) {
      const spec = (kind: RedisSpec['kind']): RedisSpec => ({ url: server.url, count, workers, concurrency: 8, kind });
      sections.push(
        compare(`${String(count)} no-op tasks through Redis, ${String(workers)} worker process${workers === 1 ? '' : 'es'} x concurrency 8`, [
          { label: 'taskforge Orchestrator worker', run: () => runChild('redisNoop', freshDir('redis'), spec('taskforge')) },
          { label: 'bare BullMQ Worker', run: () => runChild('redisNoop', freshDir('bullmq'), spec('bullmq')) },
          { label: 'bare BullMQ Worker, prioritized', run: () => runChild('redisNoop', freshDir('bullmq-p'), spec('bullmq-priority')) },
          { label: 'bare BullMQ Worker, same job as taskforge', run: () => runChild('redisNoop', freshDir('bullmq-s'), spec('bullmq-same-job')) },
          { label: 'bare BullMQ, same job, results heard (QueueEvents)', run: () => runChild('redisNoop', freshDir('bullmq-e'), spec('bullmq-same-job-events')) },
        ]),
      );
    }
  } finally {
    await server.stop();
  }
}

/** StorageTask writes to an S3-protocol server (s3rver, started here) against bare lib-storage uploads. */
async function s3Sections(): Promise<void> {
  const server = await startS3Server('bench');
  try {
    const spec: S3Spec = { endpoint: server.endpoint, bucket: server.bucket, sizeMiB: Number(values['s3-mib']), count: 3 };
    sections.push(
      compare(`3 x ${String(spec.sizeMiB)} MiB streamed writes to s3rver (multipart, 8 MiB parts)`, [
        { label: 'StorageTask write (S3Backend)', run: () => runChild('s3TaskWrite', freshDir('s3'), spec) },
        { label: 'bare @aws-sdk/lib-storage Upload', run: () => runChild('bareS3Upload', freshDir('s3-bare'), spec) },
      ]),
    );
  } finally {
    await server.stop();
  }
}

/** 4 KiB object reads without cache, one after another, against fs.promises.readFile of the same files. */
function smallReadSections(): void {
  const spec: ReadSpec = { count: Number(values['read-count']) };
  sections.push(
    compare(`${String(spec.count)} sequential 4 KiB reads, no cache`, [
      { label: 'StorageTask read', run: () => runChild('taskSmallReads', freshDir('small-reads'), spec) },
      { label: 'fs.promises.readFile', run: () => runChild('readFileSmallReads', freshDir('readfile'), spec) },
    ]),
  );
}

/** `cache: true` hits (the version checked with the backend each time) against a bare stat of the file. */
function cacheHitSections(): void {
  const spec: ReadSpec = { count: Number(values['read-count']) };
  sections.push(
    compare(`${String(spec.count)} sequential cache: true hits of 4 KiB objects`, [
      { label: 'StorageTask read, cache: true (hit)', run: () => runChild('taskCacheHits', freshDir('cache-hits'), spec) },
      { label: 'fs.promises.stat', run: () => runChild('statSmallFiles', freshDir('stats'), spec) },
    ]),
  );
}

/** A 24 MiB compressed + encrypted object read whole: without cache, through a cache that will not hold it, and hits of one that does. */
function largeReadSections(): void {
  const spec = (cache: LargeReadSpec['cache']): LargeReadSpec => ({ count: 10, cache });
  sections.push(
    compare('24 MiB compressed + encrypted object read whole, 10 reads (reads per second)', [
      { label: 'StorageTask read, no cache', run: () => runChild('taskLargeReads', freshDir('large-none'), spec('none')) },
      { label: 'cache: true, object over the entry limit', run: () => runChild('taskLargeReads', freshDir('large-default'), spec('default')) },
      { label: 'cache: true, hits (a cache that holds it)', run: () => runChild('taskLargeReads', freshDir('large-hits'), spec('large')) },
    ]),
  );
}

/** Every page of a flat directory at limit 100, against one bare readdir + stat + sort of it. */
function listingSections(): void {
  const spec: ReadSpec = { count: Number(values['list-count']) };
  sections.push(
    compare(`all pages of a ${String(spec.count)}-file directory at limit 100 (files listed per second)`, [
      { label: 'StorageTask list, page by page', run: () => runChild('taskListPages', freshDir('list'), spec) },
      { label: 'one readdir + stat + sort', run: () => runChild('bareListing', freshDir('readdir'), spec) },
    ]),
  );
}

/** A whole directory tree: taskforge's CLI against restic, storing (first and unchanged second run) and restoring. */
function treeSections(): void {
  if (!hasTool('restic')) {
    process.stderr.write('  skipped: trees vs restic: restic is not installed (apt-get install restic)\n');
    return;
  }
  const source = values['tree-source'];
  const phases: [TreeSpec['phase'], string][] = [
    ['store', 'store (compressed + encrypted, into a fresh store)'],
    ['again', 'store again, the tree unchanged'],
    ['restore', 'restore into a fresh directory'],
  ];
  for (const [phase, what] of phases) {
    const spec: TreeSpec = { source, phase };
    sections.push(
      compare(`tree ${source}: ${what}`, [
        { label: `taskforge ${phase === 'restore' ? 'read' : 'write'} --recursive`, run: () => runChild('treeTaskforge', freshDir('tree-tf'), spec) },
        { label: phase === 'restore' ? 'restic restore' : 'restic backup --compression auto', run: () => runChild('treeRestic', freshDir('tree-restic'), spec) },
      ]),
    );
  }
}

/**
 * StorageTask against restic (compressed + encrypted) and rclone crypt
 * (encrypted), all reading one mixed file: StorageTask named the file (as the
 * peers are) and handed a default stream of it (made for 64 KiB reads; StorageTask asks it for 1 MiB at a time).
 */
function peerSections(which: 'all' | 'encrypted only' = 'all'): { title: string; rows: Row[] }[] {
  const result: { title: string; rows: Row[] }[] = [];
  const compressed: PeerSpec = { sizeMiB: codecMiB, compress: true };
  const encryptedOnly: PeerSpec = { sizeMiB: codecMiB, compress: false };
  if (which === 'all' && hasTool('restic')) {
    result.push(
      compare(`${codecMiB} MiB mixed file, compressed + encrypted`, [
        { label: 'StorageTask (default compression), `file:`', run: () => runChild('storageTaskFromFile', freshDir('peer-st'), { ...compressed, source: 'file' }) },
        { label: 'StorageTask (default compression), a default fs stream', run: () => runChild('storageTaskFromFile', freshDir('peer-st'), compressed) },
        { label: 'restic backup --compression auto', run: () => runChild('resticBackup', freshDir('peer-restic'), compressed) },
      ]),
    );
  } else if (which === 'all') {
    process.stderr.write('  skipped: StorageTask vs restic: restic is not installed (apt-get install restic)\n');
  }
  if (hasTool('rclone')) {
    result.push(
      compare(`${codecMiB} MiB mixed file, encrypted only`, [
        { label: 'StorageTask (encryption only), `file:`', run: () => runChild('storageTaskFromFile', freshDir('peer-st'), { ...encryptedOnly, source: 'file' }) },
        { label: 'StorageTask (encryption only), a default fs stream', run: () => runChild('storageTaskFromFile', freshDir('peer-st'), encryptedOnly) },
        { label: 'rclone copy to a crypt remote', run: () => runChild('rcloneCryptCopy', freshDir('peer-rclone'), encryptedOnly) },
      ]),
    );
  } else {
    process.stderr.write('  skipped: StorageTask vs rclone: rclone is not installed (apt-get install rclone)\n');
  }
  return result;
}

/** Each codec setting: StorageTask against the raw node pipeline of the same algorithm, writing then reading. */
function codecSections(): { title: string; rows: Row[] }[] {
  const specs: { name: string; spec: CodecSpec }[] = [
    { name: 'encryption only', spec: { encrypt: true, sizeMiB: codecMiB } },
    { name: 'gzip-1', spec: { algorithm: 'gzip', level: 1, encrypt: false, sizeMiB: codecMiB } },
    { name: 'gzip-1 + encryption', spec: { algorithm: 'gzip', level: 1, encrypt: true, sizeMiB: codecMiB } },
    { name: 'zstd-1', spec: { algorithm: 'zstd', level: 1, encrypt: false, sizeMiB: codecMiB } },
    { name: 'zstd-1 + encryption', spec: { algorithm: 'zstd', level: 1, encrypt: true, sizeMiB: codecMiB } },
    { name: 'zstd-3', spec: { algorithm: 'zstd', level: 3, encrypt: false, sizeMiB: codecMiB } },
    { name: 'zstd-3 + encryption', spec: { algorithm: 'zstd', level: 3, encrypt: true, sizeMiB: codecMiB } },
    { name: 'brotli-4', spec: { algorithm: 'brotli', level: 4, encrypt: false, sizeMiB: codecMiB } },
    { name: 'brotli-4 + encryption', spec: { algorithm: 'brotli', level: 4, encrypt: true, sizeMiB: codecMiB } },
  ];
  const result: { title: string; rows: Row[] }[] = [];
  const wanted = values['codec-filter'] === '' ? undefined : new Set(values['codec-filter'].split(','));
  for (const { name, spec } of specs) {
    if (wanted !== undefined && !wanted.has(name)) continue;
    // Made up front: the contenders' order rotates, and each read needs the file its own write made.
    const dirs = Array.from({ length: rounds }, () => ({ task: freshDir('codec'), raw: freshDir('codec-raw') }));
    result.push(
      compare(`${codecMiB} MiB mixed data, ${name}: write`, [
        { label: 'StorageTask write', run: (round) => runChild('storageTaskCodecWrite', dirs[round]?.task ?? '', spec) },
        { label: 'raw node pipeline', run: (round) => runChild('rawCodecWrite', dirs[round]?.raw ?? '', spec) },
      ]),
    );
    result.push(
      compare(`${codecMiB} MiB mixed data, ${name}: read`, [
        { label: 'StorageTask read (as: stream)', run: (round) => runChild('storageTaskCodecRead', dirs[round]?.task ?? '', spec) },
        { label: 'raw node pipeline', run: (round) => runChild('rawCodecRead', dirs[round]?.raw ?? '', spec) },
      ]),
    );
  }
  return result;
}

console.log(`\ntaskforge benchmarks: medians of ${rounds} interleaved rounds, Node ${process.version}\n`);
for (const section of sections) {
  console.log(`## ${section.title}`);
  const baseline = section.rows[0];
  for (const row of section.rows) {
    // For ns/op lower is better; for the others higher is better. Ratio is always "row vs first row" in throughput terms.
    const ratio = baseline === undefined ? 1 : row.unit === 'ns/op' ? baseline.median / row.median : row.median / baseline.median;
    const extra = `${row.ratio === undefined ? '' : `   stored/data ${row.ratio.toFixed(3)}`}${row.loopP99Ms === undefined ? '' : `   loop p99 ${row.loopP99Ms.toFixed(1)} ms`}${row.bytesPerQueuedTask === undefined ? '' : `   ${row.bytesPerQueuedTask.toFixed(0)} B/queued task`}${row.workerPeakRssMiB === undefined ? '' : `   worker peak RSS ${row.workerPeakRssMiB.toFixed(0)} MiB`}${row.latencyP50Ms === undefined ? '' : `   latency p50 ${row.latencyP50Ms.toFixed(2)} ms p99 ${(row.latencyP99Ms ?? 0).toFixed(2)} ms`}${row.completedPerSecond === undefined ? '' : `   all written at ${row.completedPerSecond.toFixed(0)}/s`}${row.serverCpuUsPerOp === undefined ? '' : `   server CPU ${row.serverCpuUsPerOp.toFixed(0)} µs/request (${(row.serverCpuUsPerAnswer ?? 0).toFixed(0)} to the last answer)   client CPU ${(row.clientCpuUsPerOp ?? 0).toFixed(0)} µs/request`}`;
    console.log(`  ${row.label.padEnd(36)} ${row.median.toFixed(1).padStart(10)} ${row.unit.padEnd(6)} x${ratio.toFixed(2)} speed of first row   peak RSS ${row.peakRssMiB.toFixed(0)} MiB${extra}   runs ${row.runs.join(', ')}`);
  }
  console.log('');
}
await writeFile(values.out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds, sections }, null, 2)}\n`);
console.log(`written to ${values.out}`);
