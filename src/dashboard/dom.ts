// Small DOM helpers every part of the page uses.

export function element(selector: string): HTMLElement {
  const found = document.querySelector<HTMLElement>(selector);
  if (found === null) throw new Error(`the page lacks ${selector}`);
  return found;
}

/** Shows a message in a status line, red when it is an error. */
export function say(selector: string, text: string, isError = false): void {
  const target = element(selector);
  target.textContent = text;
  target.classList.toggle('error', isError);
}

/** An error's message, whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A text field of a form ('' when absent or a file). */
export function text(fields: FormData, name: string): string {
  const value = fields.get(name);
  return typeof value === 'string' ? value : '';
}

export function cell(row: HTMLTableRowElement, content: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = content;
  if (className !== undefined) td.className = className;
  return td;
}

export function button(label: string, onClick: () => void, className?: string): HTMLButtonElement {
  const made = document.createElement('button');
  made.type = 'button';
  made.textContent = label;
  if (className !== undefined) made.className = className;
  made.addEventListener('click', onClick);
  return made;
}

export function bytes(count: number): string {
  if (count < 1024) return `${String(count)} B`;
  if (count < 1024 ** 2) return `${(count / 1024).toFixed(1)} KiB`;
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)} MiB`;
  return `${(count / 1024 ** 3).toFixed(2)} GiB`;
}
