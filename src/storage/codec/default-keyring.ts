import { Keyring } from './keyring.js';

let cached: { readonly source: string; readonly keyring: Keyring | undefined } | undefined;

/**
 * The keyring the environment names (`TASKFORGE_KEYRING`, else
 * `TASKFORGE_ENCRYPTION_KEY`), read again only when those variables change.
 * Undefined when neither is set; VALIDATION_ERROR when the one set is invalid.
 */
export function defaultKeyring(): Keyring | undefined {
  const source = `${process.env['TASKFORGE_KEYRING'] ?? ''}\0${process.env['TASKFORGE_ENCRYPTION_KEY'] ?? ''}`;
  if (cached?.source !== source) cached = { source, keyring: Keyring.fromEnvironment() };
  return cached.keyring;
}
