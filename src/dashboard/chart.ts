// The chart of tasks ended per 10 s over the last 5 minutes: drawn from the
// server's own history of ends (GET /stats/ends), so that tasks that ended
// before the page opened show, then kept up live from /events, and read
// again now and then (the server's count is the one that holds).

import { getJson } from './api.js';
import { element } from './dom.js';
import type { TaskRow } from './types.js';

const STEP_SECONDS = 10;
const STEPS = 30;
const STEP_MS = STEP_SECONDS * 1000;
/** How often the chart reads the server's count again, correcting ends heard twice or missed around a reconnect. */
const RESYNC_MS = 30_000;

interface Counts {
  completed: number;
  failed: number;
}

interface EndWindow {
  now: string;
  buckets: { start: string; completed: number; failed: number }[];
}

/** Ends per step, by the step's start on the server's clock (ms). */
const steps = new Map<number, Counts>();
/** The server's clock minus this page's, so that live ends land in the server's steps. */
let offset = 0;
/** The type the table is filtered to ('' for all): the chart counts the same tasks. */
let shownType = '';

function serverNow(): number {
  return Date.now() + offset;
}

/** Reads the server's history of ends and draws it. */
export async function reloadChart(): Promise<void> {
  const query = new URLSearchParams({ window: String(STEPS * STEP_SECONDS), step: String(STEP_SECONDS) });
  if (shownType !== '') query.set('type', shownType);
  const typeAsked = shownType;
  const history = await getJson<EndWindow>(`/stats/ends?${query.toString()}`);
  // The filter changed while this was on its way: the newer reading will draw.
  if (typeAsked !== shownType) return;
  offset = Date.parse(history.now) - Date.now();
  steps.clear();
  for (const bucket of history.buckets) steps.set(Date.parse(bucket.start), { completed: bucket.completed, failed: bucket.failed });
  drawChart();
}

/** A task ended, heard live. */
export function chartEnded(task: TaskRow): void {
  if (shownType !== '' && task.type !== shownType) return;
  if (task.status !== 'completed' && task.status !== 'failed') return;
  const start = Math.floor(serverNow() / STEP_MS) * STEP_MS;
  const counts = steps.get(start) ?? { completed: 0, failed: 0 };
  counts[task.status] += 1;
  steps.set(start, counts);
  drawChart();
}

/** Counts only tasks of `type` ('' for all), as the table shows. */
export function chartType(type: string): Promise<void> {
  shownType = type;
  return reloadChart();
}

export function drawChart(): void {
  const canvas = element('#throughput') as HTMLCanvasElement;
  const context = canvas.getContext('2d');
  if (context === null) return;
  const lastStart = Math.floor(serverNow() / STEP_MS) * STEP_MS;
  const shown: Counts[] = [];
  for (let index = STEPS - 1; index >= 0; index -= 1) shown.push(steps.get(lastStart - index * STEP_MS) ?? { completed: 0, failed: 0 });
  for (const start of steps.keys()) if (start < lastStart - (STEPS - 1) * STEP_MS) steps.delete(start);
  const max = Math.max(1, ...shown.map((counts) => counts.completed + counts.failed));
  const { width, height } = canvas;
  const style = getComputedStyle(document.documentElement);
  context.clearRect(0, 0, width, height);
  const barWidth = width / STEPS;
  const scale = (height - 14) / max;
  shown.forEach((counts, index) => {
    const x = Math.round(index * barWidth) + 1;
    const completedHeight = counts.completed * scale;
    const failedHeight = counts.failed * scale;
    context.fillStyle = style.getPropertyValue('--accent').trim() || '#2563eb';
    context.fillRect(x, height - completedHeight, Math.round(barWidth) - 2, completedHeight);
    context.fillStyle = style.getPropertyValue('--bad').trim() || '#b91c1c';
    context.fillRect(x, height - completedHeight - failedHeight, Math.round(barWidth) - 2, failedHeight);
  });
  context.fillStyle = getComputedStyle(document.body).color;
  context.font = '11px system-ui';
  context.fillText(`max ${String(max)} per ${String(STEP_SECONDS)} s`, 4, 11);
  const completed = shown.reduce((sum, counts) => sum + counts.completed, 0);
  const failed = shown.reduce((sum, counts) => sum + counts.failed, 0);
  const total = completed + failed;
  const ofType = shownType === '' ? '' : ` (type ${shownType})`;
  element('#chart-summary').textContent = `${String(total)} task${total === 1 ? '' : 's'} ended in the last 5 minutes${ofType}: ${String(completed)} completed, ${String(failed)} failed`;
}

/** Slides the chart each second, and reads the server's count again now and then. */
export function startChart(onError: (error: unknown) => void): void {
  setInterval(drawChart, 1000);
  setInterval(() => {
    reloadChart().catch(onError);
  }, RESYNC_MS);
  drawChart();
}
