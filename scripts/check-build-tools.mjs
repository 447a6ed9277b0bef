// `prepare` builds dist/: npm runs it after `npm ci` in a checkout, and when a
// git URL or a folder is installed. The build needs the dev dependencies; where
// they are missing (a folder that never had `npm ci`), say so and what to do,
// instead of the shell's "tsc: not found".
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
try {
  createRequire(import.meta.url).resolve('typescript/package.json');
} catch {
  console.error(
    `taskforge: building dist/ needs the dev dependencies (typescript), and they are not installed in ${root}.\n` +
      `Run \`npm ci\` there first. To keep that folder's dist/ as it is, install with --ignore-scripts instead.`,
  );
  process.exit(1);
}
