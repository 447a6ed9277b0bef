// The table of tasks: rows kept current from /events, filtered by status,
// type and a search in ids. Type and search also ask the server, whose
// table goes back further than what this page loaded.

import { api, getJson, taskPath } from './api.js';
import { button, bytes, cell, element, messageOf, say } from './dom.js';
import { isFinished, STATUSES, type TaskRow } from './types.js';

/** Rows kept in the table; the oldest finished ones go first. */
const MAX_ROWS = 2000;
/** Rows one load asks the server for (its largest page). */
const PAGE = 1000;
/** A search waits for typing to pause this long before it asks the server. */
const SEARCH_PAUSE_MS = 250;

const rows = new Map<string, TaskRow>();
const trs = new Map<string, HTMLTableRowElement>();
const types = new Set<string>();
const shownStatuses = new Set<string>(STATUSES);
let shownType = '';
let search = '';

/** What the table calls when the user asks for a task's detail, or changes the type shown. */
export interface TableHooks {
  open(id: string): void;
  typeChanged(type: string): void;
}

let hooks: TableHooks = { open: () => undefined, typeChanged: () => undefined };

function matches(task: TaskRow): boolean {
  return shownStatuses.has(task.status) && (shownType === '' || task.type === shownType) && (search === '' || task.id.toLowerCase().includes(search));
}

function tbody(): HTMLTableSectionElement {
  return element('#tasks tbody') as HTMLTableSectionElement;
}

/** Places a new row by submission time, newest first: a live task goes on top, an older one a search found goes lower. */
function place(tr: HTMLTableRowElement, task: TaskRow): void {
  const body = tbody();
  for (let other = body.firstElementChild; other !== null; other = other.nextElementSibling) {
    const otherTask = rows.get((other as HTMLElement).dataset['id'] ?? '');
    if (otherTask === undefined || otherTask.submittedAt <= task.submittedAt) {
      other.before(tr);
      return;
    }
  }
  body.append(tr);
}

function render(task: TaskRow): void {
  let tr = trs.get(task.id);
  if (tr === undefined) {
    tr = document.createElement('tr');
    tr.dataset['id'] = task.id;
    trs.set(task.id, tr);
    place(tr, task);
  }
  tr.replaceChildren();
  tr.dataset['status'] = task.status;
  tr.hidden = !matches(task);
  const idCell = tr.insertCell();
  // The id is a button: the detail opens from the keyboard too.
  idCell.append(button(task.id, () => {
    hooks.open(task.id);
  }, 'task-id'));
  if (task.retryOf !== undefined) {
    const note = document.createElement('span');
    note.className = 'note';
    note.textContent = ` retry of ${task.retryOf}`;
    idCell.append(note);
  }
  cell(tr, task.type);
  cell(tr, task.operation ?? '');
  cell(tr, task.path ?? '', 'path');
  cell(tr, String(task.priority));
  const status = cell(tr, task.status);
  status.dataset['status'] = task.status;
  if (task.error !== undefined) {
    status.title = `${task.error.code}: ${task.error.message}`;
    status.textContent = `${task.status} (${task.error.code})`;
  }
  cell(tr, String(task.attempts));
  cell(tr, task.durationMs === undefined ? '' : `${String(task.durationMs)} ms`);
  const progressCell = tr.insertCell();
  if (task.status === 'running' && task.bytesDone !== undefined) {
    // A known size fills the bar; a stream of unknown length shows a moving bar and the bytes so far.
    const bar = document.createElement('progress');
    if (task.bytesTotal !== undefined && task.bytesTotal > 0) {
      bar.max = task.bytesTotal;
      bar.value = task.bytesDone;
    }
    bar.setAttribute('aria-label', `${task.id}: ${bytes(task.bytesDone)} done${task.bytesTotal === undefined ? '' : ` of ${bytes(task.bytesTotal)}`}`);
    progressCell.append(bar, ` ${bytes(task.bytesDone)}`);
  }
  const actions = tr.insertCell();
  if (!isFinished(task.status)) {
    const cancel = button('Cancel', () => {
      cancel.disabled = true;
      cancelTask(task.id).catch((error: unknown) => {
        say('#submit-result', messageOf(error), true);
        cancel.disabled = false;
      });
    }, 'secondary');
    cancel.setAttribute('aria-label', `cancel ${task.id}`);
    actions.append(cancel);
  }
}

export async function cancelTask(id: string): Promise<void> {
  await api(taskPath(id, '/cancel'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'cancelled from the dashboard' }) });
}

function addType(type: string): void {
  if (types.has(type)) return;
  types.add(type);
  const select = element('#type-filter') as HTMLSelectElement;
  const option = document.createElement('option');
  option.value = type;
  option.textContent = type;
  const after = [...select.options].find((existing) => existing.value !== '' && existing.value > type);
  select.add(option, after ?? null);
}

/** A task's row, new or changed; `recount` false while a whole page comes in (counted once after). */
export function upsert(task: TaskRow, recount = true): void {
  rows.set(task.id, task);
  addType(task.type);
  render(task);
  if (rows.size > MAX_ROWS) {
    for (const [id, row] of rows) {
      if (isFinished(row.status)) {
        rows.delete(id);
        trs.get(id)?.remove();
        trs.delete(id);
        break;
      }
    }
  }
  if (recount) count();
}

function count(): void {
  const counts: Record<string, number> = { pending: 0, running: 0, completed: 0, failed: 0 };
  for (const row of rows.values()) counts[row.status] = (counts[row.status] ?? 0) + 1;
  for (const status of STATUSES) element(`[data-count="${status}"]`).textContent = String(counts[status] ?? 0);
}

/** Loads the newest tasks the server has that the type and search filters let through. */
export async function loadTasks(): Promise<void> {
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (shownType !== '') query.set('type', shownType);
  if (search !== '') query.set('id', search);
  const page = await getJson<{ tasks: TaskRow[] }>(`/tasks?${query.toString()}`);
  for (const task of page.tasks.reverse()) upsert(task, false);
  count();
}

function refilter(): void {
  for (const [id, tr] of trs) {
    const task = rows.get(id);
    tr.hidden = task === undefined || !matches(task);
  }
}

/** Wires the status checkboxes, the type list and the id search. */
export function startTable(given: TableHooks): void {
  hooks = given;
  const reload = (): void => {
    loadTasks().catch((error: unknown) => {
      say('#filter-result', messageOf(error), true);
    });
  };
  element('#filters').addEventListener('change', (event) => {
    const box = event.target as HTMLInputElement;
    if (box.checked) shownStatuses.add(box.value);
    else shownStatuses.delete(box.value);
    refilter();
  });
  element('#type-filter').addEventListener('change', (event) => {
    shownType = (event.target as HTMLSelectElement).value;
    refilter();
    hooks.typeChanged(shownType);
    reload();
  });
  let pause: ReturnType<typeof setTimeout> | undefined;
  element('#id-search').addEventListener('input', (event) => {
    search = (event.target as HTMLInputElement).value.trim().toLowerCase();
    refilter();
    clearTimeout(pause);
    pause = setTimeout(reload, SEARCH_PAUSE_MS);
  });
}
