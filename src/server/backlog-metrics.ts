import type { Registry } from 'prom-client';
import { loadPromClient } from '../orchestrator/metrics.js';
import type { Backlog, BacklogRefusal } from './backlog.js';

/**
 * The backlog's gauges (tasks and bytes held, read at each scrape) and a
 * counter of the requests it refused, on the registry /metrics serves: an
 * operator sees backpressure happen, not only clients. Returns how to
 * count a refusal.
 */
export function backlogMetrics(registry: Registry, backlog: Backlog, prefix = 'taskforge_'): (reason: BacklogRefusal) => void {
  const { Counter, Gauge } = loadPromClient();
  const registers = [registry];
  // A second server on the same metrics (a restart in one process): its backlog is the one told.
  for (const name of ['http_backlog_tasks', 'http_backlog_bytes', 'http_backlog_refusals_total']) registry.removeSingleMetric(`${prefix}${name}`);
  const gauges = [
    { name: 'http_backlog_tasks', help: 'Tasks this server took (POST /tasks, retries) that have not ended; bounded by --max-backlog.', read: () => backlog.tasks },
    { name: 'http_backlog_bytes', help: 'Bytes of the requests those tasks came in; bounded by --max-backlog-bytes.', read: () => backlog.bytes },
  ];
  for (const { name, help, read } of gauges) {
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  }
  const refusals = new Counter({ name: `${prefix}http_backlog_refusals_total`, help: 'Requests refused by the backlog bound, by reason (full: 503; too_big: 413).', labelNames: ['reason'], registers });
  const full = refusals.labels('full');
  const tooBig = refusals.labels('too_big');
  // Shown at 0 from the start: a rate over a series that appears only at the first refusal misses it.
  full.inc(0);
  tooBig.inc(0);
  return (reason) => {
    (reason === 'full' ? full : tooBig).inc();
  };
}
