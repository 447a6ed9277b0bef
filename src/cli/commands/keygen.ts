import { randomBytes } from 'node:crypto';
import { KEY_BYTES } from '../../storage/codec/keyring.js';
import { printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode } from '../exit-codes.js';

/** Prints a new random 256-bit key, base64, for TASKFORGE_ENCRYPTION_KEY. */
export function keygenCommand(options: CommonOptions, streams: CliStreams): ExitCode {
  const key = randomBytes(KEY_BYTES).toString('base64');
  if (options.json === true) printJson(streams, { key });
  else streams.stdout.write(`${key}\n`);
  return ExitCode.OK;
}
