// The forms: submit a storage task, list objects, give the token.

import { api, setToken } from './api.js';
import { cell, element, messageOf, say, text } from './dom.js';

/** A storage path as the object routes take it: its segments, each encoded. */
function objectPath(path: string): string {
  return path.split('/').filter((segment) => segment !== '').map(encodeURIComponent).join('/');
}

export function submitForm(): void {
  const form = element('#submit-form') as HTMLFormElement;
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
        const stored = (await (await api(`/objects/${objectPath(path)}?${query.toString()}`, { method: 'PUT', body: file })).json()) as { path: string; size: number };
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
      (done) => {
        say('#submit-result', done);
      },
      (error: unknown) => {
        say('#submit-result', messageOf(error), true);
      },
    );
  });
}

export function listForm(): void {
  const form = element('#list-form') as HTMLFormElement;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const path = text(fields, 'path').trim();
    const query = `list&limit=1000${fields.get('recursive') === null ? '' : '&recursive=true'}`;
    api(`/objects/${objectPath(path)}?${query}`)
      .then(async (response) => {
        const page = (await response.json()) as { entries: { path: string; type: string; size: number; modifiedAt: string }[]; cursor?: string };
        const body = element('#objects tbody') as HTMLTableSectionElement;
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
        say('#list-result', messageOf(error), true);
      });
  });
}

/** The token form: shown on a 401; once given, `reload` loads what failed. */
export function tokenForm(reload: () => void): void {
  const form = element('#token-form') as HTMLFormElement;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setToken((element('#token') as HTMLInputElement).value);
    form.hidden = true;
    reload();
  });
}
