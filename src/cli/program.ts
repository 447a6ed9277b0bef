import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { TaskforgeError } from '../core/errors.js';
import { logLevelProblem } from '../core/logger.js';
import { flushOutput, printJson, type CliStreams } from './cli-context.js';
import type { cancelCommand } from './commands/cancel.js';
import type { statusCommand } from './commands/status.js';
import type { keygenCommand } from './commands/keygen.js';
import type { lsCommand } from './commands/ls.js';
import type { readCommand } from './commands/read.js';
import type { rmCommand } from './commands/rm.js';
import type { runCommand } from './commands/run.js';
import type { serveCommand } from './commands/serve.js';
import type { sweepCommand } from './commands/sweep.js';
import type { workerCommand } from './commands/worker.js';
import type { writeCommand } from './commands/write.js';
import { ExitCode, exitCodeOfError, UsageError } from './exit-codes.js';
import { DEFAULT_CONCURRENCY } from '../orchestrator/orchestrator.js';
import { MIN_LOCK_DURATION_MS } from '../distributed/redis-options.js';

const VERSION = '0.1.0';

/** `--tasks MODULE` of run, worker and serve. */
const TASKS_OPTION = [
  '--tasks <module>',
  "custom task types: a module (./my-tasks.js, or a package) whose default export maps type names to classes extending taskforge's BaseTask, e.g. export default { resize: ResizeTask }",
] as const;

/**
 * Runs the taskforge command line with `argv` (without node and the script)
 * and resolves with the exit code: 0 when every task succeeded, 1 when a
 * task failed, 2 for a usage or config error (its message on stderr).
 */
export async function main(argv: readonly string[], streams: CliStreams): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCode.OK;
  const program = buildProgram(streams, (code) => {
    exitCode = code;
  });
  const badLevel = logLevelProblem(streams.env['TASKFORGE_LOG_LEVEL']);
  if (badLevel !== undefined) {
    streams.stderr.write(`taskforge: ${badLevel}\n`);
    return ExitCode.USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    // With --json a script reading stdout is told too, in the shape of a failed task's line.
    const json = argv.includes('--json');
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.OK;
      // (Commander has said it on stderr: `taskforge: required option '-q, --queue <url>' not specified`.)
      if (json) printJson(streams, { error: { code: 'USAGE', message: error.message.replace(/^error: /, '') } });
      return ExitCode.USAGE;
    }
    if (error instanceof UsageError) {
      streams.stderr.write(`taskforge: ${error.message}\n`);
      // Nothing ran (exit 2), but a refusal keeps its own code: a script can tell a Redis that is down from a mistyped flag.
      // (A message of several lines, a batch's refusals, has each line prefixed for stderr: not in JSON.)
      if (json) printJson(streams, { error: { code: error.cause instanceof TaskforgeError ? error.cause.code : 'USAGE', message: error.message.replaceAll('\ntaskforge: ', '\n') } });
      return ExitCode.USAGE;
    }
    if (error instanceof TaskforgeError) {
      streams.stderr.write(`taskforge: ${error.code}: ${error.message}\n`);
      if (json) printJson(streams, { error: { code: error.code, message: error.message } });
      return exitCodeOfError(error.code);
    }
    throw error;
  } finally {
    flushOutput(streams);
  }
}

/**
 * The command line's commands. Each command's module is imported when that
 * command runs, not before: a start that loaded every command's (the
 * server's, the batch runner's, the worker's) cost each command about 10 ms
 * more, a thirtieth of a second run over an unchanged tree.
 */
function buildProgram(streams: CliStreams, exit: (code: ExitCode) => void): Command {
  const program = new Command('taskforge')
    .description('Store, read, list and delete data, and run batches of tasks by priority.')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      // Commander's own refusals (an unknown option) read as the command's other lines do: `taskforge: …`.
      writeErr: (text) => streams.stderr.write(text.startsWith('error: ') ? `taskforge: ${text.slice('error: '.length)}` : text),
    })
    .addHelpText(
      'after',
      `
Storage: --root DIR; else TASKFORGE_STORAGE (s3://bucket/prefix?endpoint=URL&region=R); else TASKFORGE_STORAGE_ROOT; else ./taskforge-data.
Encryption key: TASKFORGE_ENCRYPTION_KEY (base64, from 'taskforge keygen') or TASKFORGE_KEYRING.
Exit codes: 0 every task succeeded, 1 a task failed, 2 a usage or config error.

Example:
  $ echo '{"hello":"world"}' | taskforge write /greetings/hello.json --compress
  $ taskforge read /greetings/hello.json`,
    );

  common(program.command('write'))
    .description('Store data at PATH: from --file, --data, or stdin. Atomic: readers see the old object or the new one.')
    .argument('<path>', 'storage path, e.g. /data/file.txt')
    .option('-f, --file <file>', 'read the data from a file')
    .option('-d, --data <text>', 'the data, as text')
    .option('--compress [algorithm]', 'compress: zstd (the default), gzip or brotli')
    .option('--level <n>', 'compression level', integer)
    .option('--encrypt', 'encrypt (AES-256-GCM) with the key from TASKFORGE_ENCRYPTION_KEY or TASKFORGE_KEYRING')
    .option('--no-overwrite', 'fail with ALREADY_EXISTS when PATH exists')
    .option('--timeout <ms>', 'abort an attempt after this many ms', integer)
    .option('--retries <n>', 'extra attempts after a transient failure', integer)
    .option('-r, --recursive', 'store the directory --file DIR, every file under it at PATH/relative/path; unchanged files are skipped')
    .option('--concurrency <n>', 'with --recursive: files stored at once (default 32, at most 8 of them over 1 MiB)', integer)
    .option('--delete', 'with --recursive: delete stored objects whose file is gone from DIR')
    .option('-q, --queue <url>', "with --recursive: 'redis://HOST:PORT[?name=Q]' to spread the files over 'taskforge worker' processes that see DIR at the same path and store into the same place")
    .addHelpText(
      'after',
      example(
        'taskforge write /backups/db.sql --file ./db.sql --compress --encrypt',
        'cat report.csv | taskforge write /reports/2026.csv --no-overwrite',
        'taskforge write /backups/docs --file ./docs --recursive --compress --encrypt',
        'taskforge write /backups/docs --file /srv/docs --recursive --queue redis://127.0.0.1:6379   # run by taskforge worker processes',
      ),
    )
    .action(async (path: string, options: Parameters<typeof writeCommand>[1]) => {
      exit(await (await import('./commands/write.js')).writeCommand(path, options, streams));
    });

  common(program.command('read'))
    .description('Write the object at PATH to stdout, or to a file with -o (replaced whole, never half-written).')
    .argument('<path>', 'storage path')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('--encrypted', 'refuse the object unless it is encrypted (ENCRYPTION_REQUIRED)')
    .option('--max-bytes <n>', 'fail with LIMIT_EXCEEDED past this many bytes', integer)
    .option('--timeout <ms>', 'abort after this many ms', integer)
    .option('-r, --recursive', 'restore the tree stored at PATH into the directory -o DIR: contents, modes, times, links')
    .option('--concurrency <n>', 'with --recursive: files restored at once (default 32, at most 8 of them over 1 MiB)', integer)
    .addHelpText('after', example('taskforge read /backups/db.sql -o ./db.sql', 'taskforge read /greetings/hello.json | jq .', 'taskforge read /backups/docs -o ./docs --recursive'))
    .action(async (path: string, options: Parameters<typeof readCommand>[1]) => {
      exit(await (await import('./commands/read.js')).readCommand(path, options, streams));
    });

  common(program.command('ls'))
    .description('List the entries under PATH (default /).')
    .argument('[path]', 'storage directory', '/')
    .option('-r, --recursive', 'list the whole tree')
    .option('--limit <n>', 'stop after this many entries (stderr then gives the --cursor that goes on)', integer)
    .option('--cursor <cursor>', 'go on after the entries a listing stopped at (its --limit line says the cursor)')
    .addHelpText('after', example('taskforge ls /backups', 'taskforge ls / --recursive --json | jq -r .path', 'taskforge ls / --recursive --limit 100'))
    .action(async (path: string, options: Parameters<typeof lsCommand>[1]) => {
      exit(await (await import('./commands/ls.js')).lsCommand(path, options, streams));
    });

  common(program.command('rm'))
    .description('Delete the object at PATH; deleting nothing is not an error.')
    .argument('<path>', 'storage path')
    .option('-r, --recursive', 'delete a directory and everything under it')
    .addHelpText('after', example('taskforge rm /tmp/scratch.bin', 'taskforge rm /old-reports --recursive'))
    .action(async (path: string, options: Parameters<typeof rmCommand>[1]) => {
      exit(await (await import('./commands/rm.js')).rmCommand(path, options, streams));
    });

  common(program.command('sweep'))
    .description('Remove what killed writers left in a filesystem store: temporary files of writes that can never finish, and orphaned metadata. Safe while other writes run.')
    .option(
      '--older-than <ms>',
      "a file no running writer on this machine can be traced to (another machine's, on a shared disk) goes once untouched this long",
      nonNegativeInteger,
      15 * 60 * 1000,
    )
    .addHelpText('after', example('taskforge sweep', 'taskforge sweep --root /srv/store --json'))
    .action(async (options: Parameters<typeof sweepCommand>[0]) => {
      exit(await (await import('./commands/sweep.js')).sweepCommand(options, streams));
    });

  common(program.command('run'))
    .description('Run a batch of task configs (a JSON array or NDJSON, with dependsOn) by priority through the orchestrator.')
    .argument('<file>', "the batch file, or '-' for stdin")
    .option('-c, --concurrency <n>', 'tasks that run at once (with a redis:// queue, each worker has its own)', positiveInteger, DEFAULT_CONCURRENCY)
    .option('-q, --queue <queue>', "'memory'; 'sqlite:FILE' to survive a crash (run the same command again to finish); or 'redis://HOST:PORT[?name=Q]' for workers anywhere ('taskforge worker')", 'memory')
    .option('--aging <ms>', 'a waiting task gains one priority point per this many ms (no starvation)', positiveInteger)
    .option(...TASKS_OPTION)
    .addHelpText(
      'after',
      example(
        'taskforge run batch.json --concurrency 16',
        'taskforge run batch.ndjson --queue sqlite:./queue.db --json > results.ndjson',
        'taskforge run batch.json --queue redis://127.0.0.1:6379   # run by taskforge worker processes',
        'taskforge run images.ndjson --tasks ./my-tasks.js          # lines such as {"type":"resize","metadata":{"width":640}}',
        `echo '{"id":"w","type":"storage","priority":2,"metadata":{"operation":"write","path":"/a.txt","data":"hi"}}' | taskforge run -`,
      ),
    )
    .action(async (file: string, options: Parameters<typeof runCommand>[1]) => {
      exit(await (await import('./commands/run.js')).runCommand(file, options, streams));
    });

  common(program.command('worker'))
    .description('Run tasks from a Redis queue (beside any number of other workers) until SIGTERM or Ctrl-C.')
    .requiredOption('-q, --queue <url>', 'the Redis queue: redis://HOST:PORT[/DB][?name=QUEUE]')
    .option('-c, --concurrency <n>', 'tasks that run at once in this worker', positiveInteger, DEFAULT_CONCURRENCY)
    .option('--shutdown-timeout <ms>', 'on SIGTERM, how long running tasks may finish before they go back to the queue', nonNegativeInteger, 30_000)
    .option('--lock-duration <ms>', "how long a running task's lock lasts (renewed at half that; 500 or more); a dead worker's tasks run again after it", lockDuration, 30_000)
    .option(...TASKS_OPTION)
    .addHelpText(
      'after',
      example(
        'taskforge worker --queue redis://127.0.0.1:6379 --concurrency 16',
        'TASKFORGE_STORAGE=s3://bucket/data taskforge worker --queue redis://redis.internal:6379?name=backups --json',
        'taskforge worker --queue redis://127.0.0.1:6379 --tasks ./my-tasks.js   # also runs the custom types of my-tasks.js',
      ),
    )
    .action(async (options: Parameters<typeof workerCommand>[0]) => {
      exit(await (await import('./commands/worker.js')).workerCommand(options, streams));
    });

  common(program.command('serve'))
    .description('Serve the HTTP API (tasks, live events, metrics, objects) over an orchestrator until SIGTERM or Ctrl-C.')
    .option('-p, --port <n>', 'the port; 0 picks a free one', portNumber, 8080)
    .option('-H, --host <host>', 'the address to listen on; beyond loopback TASKFORGE_TOKEN is required', '127.0.0.1')
    .option('-q, --queue <queue>', "'memory'; 'sqlite:FILE'; or 'redis://HOST:PORT[?name=Q]' (tasks run by 'taskforge worker' processes)", 'memory')
    .option('-c, --concurrency <n>', 'tasks that run at once in this process (memory and sqlite queues)', positiveInteger, DEFAULT_CONCURRENCY)
    .option('--shutdown-timeout <ms>', 'on SIGTERM, how long running tasks may finish', nonNegativeInteger, 30_000)
    .option('--max-backlog <tasks>', 'tasks taken and not ended the server holds at most; past it POST /tasks answers 503 BACKLOG_FULL with Retry-After', positiveInteger, 100_000)
    .option('--max-backlog-bytes <bytes>', 'bytes of the requests those tasks came in, at most (the same 503)', positiveInteger, 256 * 1024 * 1024)
    .option(...TASKS_OPTION)
    .addHelpText(
      'after',
      example(
        'taskforge serve --port 8080',
        'taskforge serve --tasks ./my-tasks.js   # POST /tasks also takes the custom types of my-tasks.js',
        'TASKFORGE_TOKEN=$(openssl rand -hex 32) taskforge serve --host 0.0.0.0 --queue redis://127.0.0.1:6379',
        "curl -X PUT --data-binary @report.csv 'http://127.0.0.1:8080/objects/reports/2026.csv?compress=zstd'",
      ),
    )
    .action(async (options: Parameters<typeof serveCommand>[0]) => {
      exit(await (await import('./commands/serve.js')).serveCommand(options, streams));
    });

  program
    .command('cancel')
    .description('Cancel a task in a Redis queue, wherever it runs (its AbortSignal fires on that worker), and wait for its end.')
    .argument('<id>', 'the task id')
    .requiredOption('-q, --queue <url>', 'the Redis queue: redis://HOST:PORT[/DB][?name=QUEUE]')
    .option('--reason <text>', 'why, recorded in the cancel event')
    .option('--json', 'print the task result as JSON')
    .addHelpText('after', example('taskforge cancel nightly-backup --queue redis://127.0.0.1:6379 --reason "disk full"'))
    .action(async (id: string, options: Parameters<typeof cancelCommand>[1]) => {
      exit(await (await import('./commands/cancel.js')).cancelCommand(id, options, streams));
    });

  program
    .command('status')
    .description('Say what a Redis queue holds: each task asked for (its end once it has one), or how many wait and run, and the unfinished ones.')
    .argument('[ids...]', 'task ids (none: the queue as a whole)')
    .requiredOption('-q, --queue <url>', 'the Redis queue: redis://HOST:PORT[/DB][?name=QUEUE]')
    .option('--limit <n>', 'unfinished tasks to list, without ids', positiveInteger, 20)
    .option('--json', 'one JSON object per task (without ids: {queue, waiting, running, unfinished})')
    .addHelpText('after', example('taskforge status --queue redis://127.0.0.1:6379', 'taskforge status nightly-backup --queue redis://127.0.0.1:6379 --json'))
    .action(async (ids: string[], options: Parameters<typeof statusCommand>[1]) => {
      exit(await (await import('./commands/status.js')).statusCommand(ids, options, streams));
    });

  program
    .command('keygen')
    .description('Print a new random 256-bit key, base64, for TASKFORGE_ENCRYPTION_KEY.')
    .option('--json', 'print {"key": ...}')
    .addHelpText('after', example('taskforge keygen', 'export TASKFORGE_ENCRYPTION_KEY="$(taskforge keygen)"'))
    .action(async (options: Parameters<typeof keygenCommand>[0]) => {
      exit((await import('./commands/keygen.js')).keygenCommand(options, streams));
    });

  return program;
}

/** The options every storage command takes. */
function common(command: Command): Command {
  return command
    .option('--root <dir>', 'storage root directory (else TASKFORGE_STORAGE, e.g. s3://bucket/prefix; else TASKFORGE_STORAGE_ROOT; else ./taskforge-data)')
    .option('--json', 'machine-readable output: one JSON object per line');
}

function example(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((line) => `  $ ${line}`).join('\n')}`;
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) throw new InvalidArgumentError(`expected a whole number (got '${value}')`);
  return parsed;
}

function nonNegativeInteger(value: string): number {
  const parsed = integer(value);
  if (parsed < 0) throw new InvalidArgumentError(`expected 0 or more (got '${value}')`);
  return parsed;
}

function portNumber(value: string): number {
  const parsed = integer(value);
  if (parsed < 0 || parsed > 65_535) throw new InvalidArgumentError(`expected a port from 0 to 65535 (got '${value}')`);
  return parsed;
}

function lockDuration(value: string): number {
  const parsed = integer(value);
  if (parsed < MIN_LOCK_DURATION_MS) throw new InvalidArgumentError(`expected ${String(MIN_LOCK_DURATION_MS)} ms or more, so that a write can commit within its lock (got '${value}')`);
  return parsed;
}

function positiveInteger(value: string): number {
  const parsed = integer(value);
  if (parsed < 1) throw new InvalidArgumentError(`expected 1 or more (got '${value}')`);
  return parsed;
}
