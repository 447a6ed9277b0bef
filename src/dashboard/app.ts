// The dashboard: a live table of tasks fed by /events, a form to submit
// storage tasks, cancel buttons, counters, a throughput chart and an object
// listing. Plain DOM, no framework, nothing fetched from elsewhere.

interface TaskRow {
  id: string;
  type: string;
  priority: number;
  status: 'pending' | 'running' | 'completed' | 'failed';
  attempts: number;
  submittedAt: string;
  operation?: string;
  path?: string;
  durationMs?: number;
  bytesDone?: number;
  bytesTotal?: number;
  error?: { code: string; message: string };
}

interface ErrorBody {
  error?: { code?: string; message?: string };
}

const STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
/** Rows kept in the table; the oldest finished ones go first. */
const MAX_ROWS = 2000;
/** The chart: this many buckets of this many ms. */
const BUCKETS = 30;
const BUCKET_MS = 10_000;

const rows = new Map<string, TaskRow>();
const endedAt: number[] = [];
const shown = new Set<string>(STATUSES);
let token = sessionStorage.getItem('taskforge-token') ?? '';

function element(selector: string): HTMLElement {
  const found = document.querySelector<HTMLElement>(selector);
  if (found === null) throw new Error(`the page lacks ${selector}`);
  return found;
}

/** A text field of a form ('' when absent or a file). */
function text(fields: FormData, name: string): string {
  const value = fields.get(name);
  return typeof value === 'string' ? value : '';
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return token === '' ? extra : { ...extra, authorization: `Bearer ${token}` };
}

/** Calls the API; a 401 asks for the token; an error body becomes an Error with its code and message. */
async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(path, { ...init, headers: headers((init.headers ?? {}) as Record<string, string>) });
  if (response.status === 401) {
    (element('#token-form') as HTMLFormElement).hidden = false;
    throw new Error('this server needs its token');
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as ErrorBody;
    throw new Error(`${body.error?.code ?? String(response.status)}: ${body.error?.message ?? response.statusText}`);
  }
  return response;
}

function say(selector: string, text: string, isError = false): void {
  const target = element(selector);
  target.textContent = text;
  target.classList.toggle('error', isError);
}

// ---- the table ----

function bytes(count: number): string {
  if (count < 1024) return `${String(count)} B`;
  if (count < 1024 ** 2) return `${(count / 1024).toFixed(1)} KiB`;
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)} MiB`;
  return `${(count / 1024 ** 3).toFixed(2)} GiB`;
}

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

function render(task: TaskRow): void {
  const body = (element('#tasks tbody') as HTMLTableSectionElement);
  let tr = body.querySelector<HTMLTableRowElement>(`tr[data-id="${CSS.escape(task.id)}"]`);
  if (tr === null) {
    tr = document.createElement('tr');
    tr.dataset['id'] = task.id;
    body.prepend(tr);
  }
  tr.replaceChildren();
  tr.dataset['status'] = task.status;
  tr.hidden = !shown.has(task.status);
  cell(tr, task.id);
  cell(tr, task.type);
  cell(tr, task.operation ?? '');
  cell(tr, task.path ?? '', 'path');
  cell(tr, String(task.priority));
  const status = cell(tr, task.status);
  status.dataset['status'] = task.status;
  if (task.error !== undefined) status.title = `${task.error.code}: ${task.error.message}`;
  if (task.error !== undefined) status.textContent = `${task.status} (${task.error.code})`;
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
  if (task.status === 'pending' || task.status === 'running') {
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'secondary';
    cancel.textContent = 'Cancel';
    cancel.setAttribute('aria-label', `cancel ${task.id}`);
    cancel.addEventListener('click', () => {
      cancel.disabled = true;
      api(`/tasks/${encodeURIComponent(task.id)}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'cancelled from the dashboard' }) }).catch((error: unknown) => {
        say('#submit-result', String(error instanceof Error ? error.message : error), true);
        cancel.disabled = false;
      });
    });
    actions.append(cancel);
  }
}

function upsert(task: TaskRow): void {
  const before = rows.get(task.id);
  rows.set(task.id, task);
  if (before?.status !== task.status && (task.status === 'completed' || task.status === 'failed')) endedAt.push(Date.now());
  render(task);
  if (rows.size > MAX_ROWS) {
    for (const [id, row] of rows) {
      if (row.status === 'completed' || row.status === 'failed') {
        rows.delete(id);
        element('#tasks tbody').querySelector(`tr[data-id="${CSS.escape(id)}"]`)?.remove();
        break;
      }
    }
  }
  count();
}

function count(): void {
  const counts: Record<string, number> = { pending: 0, running: 0, completed: 0, failed: 0 };
  for (const row of rows.values()) counts[row.status] = (counts[row.status] ?? 0) + 1;
  for (const status of STATUSES) element(`[data-count="${status}"]`).textContent = String(counts[status] ?? 0);
}

// ---- the chart ----

function drawChart(): void {
  const canvas = (element('#throughput') as HTMLCanvasElement);
  const context = canvas.getContext('2d');
  if (context === null) return;
  const now = Date.now();
  while (endedAt.length > 0 && (endedAt[0] ?? now) < now - BUCKETS * BUCKET_MS) endedAt.shift();
  const buckets = new Array<number>(BUCKETS).fill(0);
  for (const at of endedAt) {
    const index = BUCKETS - 1 - Math.floor((now - at) / BUCKET_MS);
    if (index >= 0) buckets[index] = (buckets[index] ?? 0) + 1;
  }
  const max = Math.max(1, ...buckets);
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  context.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--accent') || '#2563eb';
  const barWidth = width / BUCKETS;
  buckets.forEach((value, index) => {
    const barHeight = (value / max) * (height - 14);
    context.fillRect(index * barWidth + 1, height - barHeight, barWidth - 2, barHeight);
  });
  context.fillStyle = getComputedStyle(document.body).color;
  context.font = '11px system-ui';
  context.fillText(`max ${String(max)} per 10 s`, 4, 11);
}

// ---- live events: /events read with fetch, so that the token can go in a header ----

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
      say('#connection', `disconnected: ${error instanceof Error ? error.message : String(error)}`, true);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await load().catch(() => undefined);
  }
}

function handle(block: string): void {
  const data = block.split('\n').find((line) => line.startsWith('data: '));
  if (data === undefined) return;
  const { task } = JSON.parse(data.slice('data: '.length)) as { task?: TaskRow };
  if (task !== undefined) upsert(task);
}

async function load(): Promise<void> {
  const page = (await (await api('/tasks?limit=1000')).json()) as { tasks: TaskRow[] };
  for (const task of page.tasks.reverse()) upsert(task);
}

// ---- forms ----

function submitForm(): void {
  const form = (element('#submit-form') as HTMLFormElement);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const operation = text(fields, 'operation');
    const path = text(fields, 'path').trim();
    const compression = text(fields, 'compression');
    const encryption = fields.get('encryption') !== null;
    const file = fields.get('file');
    const send = async (): Promise<string> => {
      if (operation === 'write' && file instanceof File && file.size > 0) {
        // A file streams to the object route: no JSON, no size limit but the server's.
        const query = new URLSearchParams();
        if (compression !== '') query.set('compress', compression);
        if (encryption) query.set('encrypt', 'true');
        const objectPath = path.split('/').filter((segment) => segment !== '').map(encodeURIComponent).join('/');
        const stored = (await (await api(`/objects/${objectPath}?${query.toString()}`, { method: 'PUT', body: file })).json()) as { path: string; size: number };
        return `stored ${stored.path} (${String(stored.size)} bytes)`;
      }
      const options: Record<string, unknown> = {};
      if (operation === 'write' && compression !== '') options['compression'] = { algorithm: compression };
      if ((operation === 'write' || operation === 'read') && encryption) options['encryption'] = true;
      if (operation === 'read') {
        options['as'] = 'text';
        if (fields.get('cache') !== null) options['cache'] = true;
      }
      const metadata: Record<string, unknown> = { operation, path, options };
      if (operation === 'write') metadata['data'] = text(fields, 'data');
      const { ids } = (await (await api('/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'storage', metadata }) })).json()) as { ids: string[] };
      return `submitted ${ids.join(', ')}`;
    };
    send().then(
      (text) => {
        say('#submit-result', text);
      },
      (error: unknown) => {
        say('#submit-result', error instanceof Error ? error.message : String(error), true);
      },
    );
  });
}

function listForm(): void {
  const form = (element('#list-form') as HTMLFormElement);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const path = text(fields, 'path').trim();
    const objectPath = path.split('/').filter((segment) => segment !== '').map(encodeURIComponent).join('/');
    const query = `list&limit=1000${fields.get('recursive') === null ? '' : '&recursive=true'}`;
    api(`/objects/${objectPath}?${query}`)
      .then(async (response) => {
        const page = (await response.json()) as { entries: { path: string; type: string; size: number; modifiedAt: string }[]; cursor?: string };
        const body = (element('#objects tbody') as HTMLTableSectionElement);
        body.replaceChildren();
        for (const entry of page.entries) {
          const tr = body.insertRow();
          cell(tr, entry.path, 'path');
          cell(tr, entry.type);
          cell(tr, entry.type === 'directory' ? '' : String(entry.size));
          cell(tr, entry.modifiedAt);
        }
        say('#list-result', `${String(page.entries.length)} entries${page.cursor === undefined ? '' : ' (more not shown)'}`);
      })
      .catch((error: unknown) => {
        say('#list-result', error instanceof Error ? error.message : String(error), true);
      });
  });
}

function filters(): void {
  element('#filters').addEventListener('change', (event) => {
    const box = event.target as HTMLInputElement;
    if (box.checked) shown.add(box.value);
    else shown.delete(box.value);
    for (const tr of element('#tasks tbody').querySelectorAll<HTMLTableRowElement>('tr')) tr.hidden = !shown.has(tr.dataset['status'] ?? '');
  });
}

function tokenForm(): void {
  const form = (element('#token-form') as HTMLFormElement);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    token = (element('#token') as HTMLInputElement).value;
    sessionStorage.setItem('taskforge-token', token);
    form.hidden = true;
    load().catch(() => undefined);
  });
}

submitForm();
listForm();
filters();
tokenForm();
setInterval(drawChart, 1000);
drawChart();
const sayFailure = (error: unknown): void => {
  say('#connection', error instanceof Error ? error.message : String(error), true);
};
load().catch(sayFailure).then(follow).catch(sayFailure);
