// The dashboard: a live table of tasks fed by /events (filtered by status,
// type and id), each task's detail with Retry and Cancel, counters, a chart
// of ends drawn from the server's history, a form to submit storage tasks
// and an object listing. Plain DOM, no framework, nothing fetched from
// elsewhere. This file wires the parts together and follows /events.

import { api } from './api.js';
import { chartEnded, chartType, reloadChart, startChart } from './chart.js';
import { changed, openLater, startDetail } from './detail.js';
import { messageOf, say } from './dom.js';
import { listForm, submitForm, tokenForm } from './forms.js';
import { loadTasks, startTable, upsert } from './table.js';
import type { TaskRow } from './types.js';

function sayFailure(error: unknown): void {
  say('#connection', messageOf(error), true);
}

/** One Server-Sent Event: its name and its task's row after it. */
function handle(block: string): void {
  const lines = block.split('\n');
  const name = lines.find((line) => line.startsWith('event: '))?.slice('event: '.length);
  const data = lines.find((line) => line.startsWith('data: '));
  if (data === undefined) return;
  const { task } = JSON.parse(data.slice('data: '.length)) as { task?: TaskRow };
  if (task === undefined) return;
  upsert(task);
  if (name === 'complete' || name === 'error') chartEnded(task);
  changed(task.id);
}

/** What the page shows from the server: the tasks and the chart. */
async function load(): Promise<void> {
  await Promise.all([loadTasks(), reloadChart()]);
}

/** /events read with fetch, so that the token can go in a header; on a drop, it waits, reloads and follows again. */
async function follow(): Promise<void> {
  for (;;) {
    try {
      const response = await api('/events');
      say('#connection', 'live');
      const reader = (response.body ?? new ReadableStream<Uint8Array>()).getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          handle(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
      say('#connection', 'reconnecting…');
    } catch (error) {
      say('#connection', `disconnected: ${messageOf(error)}`, true);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await load().catch(() => undefined);
  }
}

submitForm();
listForm();
tokenForm(() => {
  load().catch(sayFailure);
});
startDetail();
startTable({
  open: openLater,
  typeChanged: (type) => {
    chartType(type).catch(sayFailure);
  },
});
startChart(sayFailure);
load().catch(sayFailure).then(follow).catch(sayFailure);
