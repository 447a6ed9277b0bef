// Before and after: the same scenarios from two builds of the benchmarks, interleaved
// (the order alternates every round), so that a change is measured against the code
// it replaced in one run on this noisy machine. Each build is a checkout whose
// `npx tsc -p tsconfig.bench.json` has run (dist-bench/).
// Usage: node scripts/compare-builds.mjs BEFORE_CHECKOUT AFTER_CHECKOUT [ROUNDS] [noop|redis|all]
// (redis needs REDIS_URL, a server of its own: the scenario empties nothing but its queue).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [before, after, rounds = '3', which = 'noop'] = process.argv.slice(2);
if (before === undefined || after === undefined) throw new Error('usage: compare-builds BEFORE AFTER [ROUNDS] [noop|redis|all]');
const builds = { before: join(before, 'dist-bench/bench/child.js'), after: join(after, 'dist-bench/bench/child.js') };
const work = mkdtempSync(join(tmpdir(), 'compare-'));
mkdirSync(work, { recursive: true });

function run(child, scenario, spec) {
  const ran = spawnSync(process.execPath, ['--expose-gc', child, scenario, work, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (ran.status !== 0) throw new Error(ran.stderr);
  return JSON.parse(ran.stdout.trim().split('\n').at(-1));
}

const cases = [];
if (which === 'noop' || which === 'all') {
  cases.push(['300,000 no-op tasks, one priority, concurrency 100', 'orchestratorNoop', { count: 300000, concurrency: 100, priorities: 'same' }]);
  cases.push(['100,000 no-op tasks, random priorities, concurrency 100', 'orchestratorNoop', { count: 100000, concurrency: 100, priorities: 'random' }]);
  cases.push(['p-queue, the same 300,000 (the peer)', 'pQueueNoop', { count: 300000, concurrency: 100, priorities: 'same' }]);
  cases.push(['50,000 no-op tasks on SQLite, concurrency 100', 'sqliteQueueNoop', { count: 50000, concurrency: 100, priorities: 'same' }]);
}
if (which === 'redis' || which === 'all') {
  const url = process.env['REDIS_URL'];
  if (url === undefined) throw new Error('REDIS_URL: a Redis server for the redis scenarios');
  cases.push(['Redis, 20,000 no-op tasks, 1 worker of concurrency 8', 'redisNoop', { url, count: 20000, workers: 1, concurrency: 8, kind: 'taskforge' }]);
  cases.push(['bare BullMQ, 20,000 empty jobs, 1 worker of concurrency 8 (the peer)', 'redisNoop', { url, count: 20000, workers: 1, concurrency: 8, kind: 'bullmq' }]);
}

const results = new Map();
for (let round = 0; round < Number(rounds); round += 1) {
  for (const [label, scenario, spec] of cases) {
    for (const build of round % 2 === 0 ? ['before', 'after'] : ['after', 'before']) {
      const measured = run(builds[build], scenario, spec);
      const key = `${label} | ${build}`;
      results.set(key, [...(results.get(key) ?? []), measured]);
      process.stderr.write(`${key} round ${String(round + 1)}: ${measured.perSecond.toFixed(0)} ${measured.unit}, peak RSS ${measured.peakRssMiB.toFixed(0)} MiB\n`);
    }
  }
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
for (const [label] of cases) {
  const [b, a] = ['before', 'after'].map((build) => results.get(`${label} | ${build}`) ?? []);
  const mb = median(b.map((m) => m.perSecond));
  const ma = median(a.map((m) => m.perSecond));
  // Each round's after/before ratio, its two runs side by side in time: less swayed by a noisy stretch than the ratio of medians.
  const paired = median(a.map((m, round) => m.perSecond / (b[round]?.perSecond ?? Number.NaN)));
  console.log(`${label}: before ${mb.toFixed(0)}/s, after ${ma.toFixed(0)}/s (${(ma / mb).toFixed(2)}x; median of rounds' ratios ${paired.toFixed(2)}x); peak RSS ${median(b.map((m) => m.peakRssMiB)).toFixed(0)} / ${median(a.map((m) => m.peakRssMiB)).toFixed(0)} MiB`);
  // CPU per 1,000 tasks, where a scenario reports it (Redis): time on a shared machine swings, the work done swings less.
  for (const part of ['workerCpuMs', 'submitterCpuMs', 'redisCpuMs']) {
    if (a[0]?.[part] === undefined || b[0]?.[part] === undefined) continue;
    const per = (m) => (m[part] / (m.perSecond * (m.elapsedMs / 1000))) * 1000;
    console.log(`  ${part.replace('CpuMs', '')} CPU per 1,000 tasks: before ${median(b.map(per)).toFixed(0)} ms, after ${median(a.map(per)).toFixed(0)} ms`);
  }
}
