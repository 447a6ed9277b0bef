// Copies the dashboard's page and style beside its compiled script (tsc emits only the .js).
import { copyFileSync, mkdirSync } from 'node:fs';

const from = new URL('../src/dashboard/', import.meta.url);
const to = new URL('../dist/src/dashboard/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const file of ['index.html', 'style.css']) copyFileSync(new URL(file, from), new URL(file, to));
