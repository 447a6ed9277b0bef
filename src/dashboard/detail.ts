// A task's detail, in a dialog: its fields and timings, its config without
// data, its result or error, its events; Retry for a failed task, Cancel
// for one not finished. Kept current while open.

import { getJson, postJson, taskPath } from './api.js';
import { button, bytes, element, messageOf, say } from './dom.js';
import { cancelTask } from './table.js';
import { isFinished, type LoggedEvent, type TaskDetail } from './types.js';

/** A change heard live is shown after this pause (a transfer sends many). */
const REFRESH_PAUSE_MS = 150;
/** Longest preview of a result's data. */
const PREVIEW_CHARS = 500;

let openId: string | undefined;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

function dialog(): HTMLDialogElement {
  return element('#detail') as HTMLDialogElement;
}

/** One `dt`/`dd` pair; the `dd` carries `data-field` (what the tests and scripts read). */
function field(list: HTMLElement, name: string, label: string, value: string | Node | undefined): void {
  if (value === undefined || value === '') return;
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  dd.dataset['field'] = name;
  dd.append(value);
  list.append(dt, dd);
}

/** A button that opens another task's detail (a retry and what it retried). */
function taskLink(id: string | undefined): Node | undefined {
  if (id === undefined) return undefined;
  return button(id, () => {
    openLater(id);
  }, 'link');
}

function size(count: number | undefined, unit: string): string {
  return count === undefined ? '' : `, ${String(count)} ${unit}${count === 1 ? '' : 's'}`;
}

/** What a result's data is, never more of a read's payload than its kind and size. */
function dataSummary(task: TaskDetail): string | undefined {
  const result = task.result;
  if (result === undefined) return undefined;
  const { data } = result;
  if (data === undefined) return result.details?.['dataRetained'] === false ? 'not kept (large, or bytes: read the object itself)' : undefined;
  // A storage write, delete or list returns facts about objects: shown. Anything else may be a payload: described.
  if (task.type === 'storage' && task.operation !== 'read') {
    const json = JSON.stringify(data);
    return json.length > PREVIEW_CHARS ? `${json.slice(0, PREVIEW_CHARS)}…` : json;
  }
  if (typeof data === 'string') return `text${size(data.length, 'character')}`;
  return `json${size(new TextEncoder().encode(JSON.stringify(data)).length, 'byte')}`;
}

function describeEvent(entry: LoggedEvent): string {
  const error = entry['error'] as { code: string; message: string } | undefined;
  switch (entry.event) {
    case 'submit':
      return `priority ${String(entry['priority'])}`;
    case 'retry':
      return `attempt ${String(entry['attempt'])} failed: ${error?.code ?? ''}: ${error?.message ?? ''}; next attempt in ${String(entry['delayMs'])} ms`;
    case 'progress': {
      const total = entry['bytesTotal'] as number | undefined;
      return `${bytes(entry['bytesDone'] as number)}${total === undefined ? '' : ` of ${bytes(total)}`}`;
    }
    case 'cancel':
      return `while ${String(entry['previousStatus'])}${typeof entry['reason'] === 'string' ? `: ${entry['reason']}` : ''}`;
    case 'complete':
      return `${String(entry['status'])} after ${String(entry['attempts'])} attempt(s), ${String(entry['durationMs'])} ms`;
    case 'error':
      return `${error?.code ?? ''}: ${error?.message ?? ''}`;
    default:
      return '';
  }
}

function renderEvents(events: LoggedEvent[], kept: boolean, trimmed: number): void {
  const list = element('#detail-events');
  list.replaceChildren();
  if (!kept) {
    const none = document.createElement('li');
    none.textContent = 'none kept: the task ran before this server listened, or its log was let go';
    list.append(none);
    return;
  }
  for (const [index, entry] of events.entries()) {
    const item = document.createElement('li');
    item.dataset['event'] = entry.event;
    const time = document.createElement('time');
    time.dateTime = entry.at;
    time.textContent = entry.at.slice(11, 23);
    const name = document.createElement('strong');
    name.textContent = entry.event;
    const about = describeEvent(entry);
    item.append(time, ' ', name, about === '' ? '' : ` ${about}`);
    list.append(item);
    if (index === 0 && trimmed > 0) {
      const gap = document.createElement('li');
      gap.textContent = `… ${String(trimmed)} more not kept`;
      list.append(gap);
    }
  }
}

function renderTask(task: TaskDetail): void {
  element('#detail-title').textContent = `Task ${task.id}`;
  const fields = element('#detail-fields');
  fields.replaceChildren();
  field(fields, 'status', 'status', task.status);
  field(fields, 'type', 'type', task.type);
  field(fields, 'priority', 'priority', String(task.priority));
  field(fields, 'attempts', 'attempts', String(task.attempts));
  field(fields, 'submittedAt', 'submitted', task.submittedAt);
  field(fields, 'startedAt', 'started', task.startedAt);
  field(fields, 'finishedAt', 'finished', task.finishedAt);
  field(fields, 'durationMs', 'duration', task.durationMs === undefined ? undefined : `${String(task.durationMs)} ms`);
  field(fields, 'dependsOn', 'depends on', task.dependsOn?.join(', '));
  field(fields, 'retryOf', 'retry of', taskLink(task.retryOf));
  field(fields, 'retriedAs', 'retried as', taskLink(task.retriedAs));
  const config = element('#detail-config');
  config.replaceChildren();
  if (task.config === undefined) {
    field(config, 'config', 'config', 'not held by this server (the task was submitted by another client, or before this server started)');
  } else {
    const metadata = task.config.metadata ?? {};
    field(config, 'operation', 'operation', typeof metadata['operation'] === 'string' ? metadata['operation'] : undefined);
    field(config, 'path', 'path', typeof metadata['path'] === 'string' ? metadata['path'] : undefined);
    field(config, 'options', 'options', metadata['options'] === undefined ? undefined : JSON.stringify(metadata['options']));
    const omitted = task.config.omitted?.map((left) => `${left.field}: ${left.kind}${size(left.bytes, 'byte')} (not shown)`);
    field(config, 'omitted', 'left out', omitted?.join('; '));
  }
  const result = element('#detail-result');
  result.replaceChildren();
  const error = task.result?.error ?? task.error;
  field(result, 'error', 'error', error === undefined ? undefined : `${error.code}: ${error.message}`);
  field(result, 'result-data', 'data', dataSummary(task));
  const details = task.result?.details;
  field(result, 'result-details', 'details', details === undefined || Object.keys(details).length === 0 ? undefined : JSON.stringify(details));
  if (result.childElementCount === 0) field(result, 'result', 'result', isFinished(task.status) ? 'none' : 'not yet');
  const actions = element('#detail-actions');
  actions.replaceChildren();
  if (task.status === 'failed' && task.retriedAs === undefined) {
    actions.append(button('Retry', () => {
      retry(task.id).catch(showFailure);
    }));
  }
  if (!isFinished(task.status)) {
    actions.append(button('Cancel task', () => {
      cancelTask(task.id).catch(showFailure);
    }, 'secondary'));
  }
}

async function retry(id: string): Promise<void> {
  const { id: retryId } = await postJson<{ id: string; retryOf: string }>(taskPath(id, '/retry'), {});
  await open(retryId, `retried as ${retryId}`);
}

/** Fills the dialog with a task's detail and events. */
async function show(id: string): Promise<void> {
  const [task, log] = await Promise.all([getJson<TaskDetail>(taskPath(id)), getJson<{ events: LoggedEvent[]; kept: boolean; trimmed: number }>(taskPath(id, '/events'))]);
  // Another task was opened meanwhile.
  if (openId !== id) return;
  renderTask(task);
  renderEvents(log.events, log.kept, log.trimmed);
}

function showFailure(error: unknown): void {
  say('#detail-message', messageOf(error), true);
}

/** Opens a task's detail from a click: its failures show in the dialog. */
export function openLater(id: string): void {
  open(id).catch(showFailure);
}

/** Opens a task's detail (with a message to show, after a retry). */
export async function open(id: string, message = ''): Promise<void> {
  openId = id;
  say('#detail-message', message);
  const box = dialog();
  if (!box.open) box.showModal();
  await show(id);
}

/** A task changed (heard live): its open detail follows, after a short pause. */
export function changed(id: string): void {
  if (openId !== id || !dialog().open) return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    show(id).catch(showFailure);
  }, REFRESH_PAUSE_MS);
}

export function startDetail(): void {
  const box = dialog();
  element('#detail-close').addEventListener('click', () => {
    box.close();
  });
  box.addEventListener('close', () => {
    openId = undefined;
  });
}
