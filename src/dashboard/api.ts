// Calls to the server's API, with the token when it needs one.

import { element } from './dom.js';

interface ErrorBody {
  error?: { code?: string; message?: string };
}

let token = sessionStorage.getItem('taskforge-token') ?? '';

export function setToken(value: string): void {
  token = value;
  sessionStorage.setItem('taskforge-token', value);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return token === '' ? extra : { ...extra, authorization: `Bearer ${token}` };
}

/** Calls the API; a 401 asks for the token; an error body becomes an Error with its code and message. */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
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

export async function getJson<T>(path: string): Promise<T> {
  return (await (await api(path)).json()) as T;
}

/** A POST as the server wants it: JSON, also when there is no body. */
export async function postJson<T>(path: string, body?: unknown): Promise<T> {
  const response = await api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return (await response.json()) as T;
}

/** A task's path under /tasks. */
export function taskPath(id: string, rest = ''): string {
  return `/tasks/${encodeURIComponent(id)}${rest}`;
}
