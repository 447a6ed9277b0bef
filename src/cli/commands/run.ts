import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ErrorCode, isTaskforgeError, type TaskforgeError } from '../../core/errors.js';
import { Orchestrator, type AnyOrchestrator, type ShutdownReport } from '../../orchestrator/orchestrator.js';
import { listed, plural } from '../cli-words.js';
import { withId, type TaskConfig } from '../../tasks/task-config.js';
import { TaskType } from '../../tasks/task-type.js';
import { validateTaskConfig } from '../../tasks/validate.js';
import { batchIdPrefix, parseBatch } from '../batch-file.js';
import { BatchView, type BatchTask } from '../batch-view.js';
import { afterCaret, Interruption } from '../interruption.js';
import { exitOnceReturned } from '../stop-signal.js';
import { STOP_GRACE_MS, type TaskQueue } from '../../orchestrator/task-queue.js';
import type { TaskView } from '../../orchestrator/task-view.js';
import { typesNoneRuns } from '../../distributed/redis-worker-roster.js';
import { queueWorkers } from '../fellow-workers.js';
import { sayIfRootMissing } from '../root-missing.js';
import { chooseQueue, openCliQueue } from '../cli-queue.js';
import { LocalQueue } from '../../orchestrator/queues/local-queue.js';
import { tellConnectionChanges } from '../connection-lines.js';
import { configCheckOf, runConfigCheck } from '../../orchestrator/config-check.js';
import { loadTaskModule, type TaskTypes } from '../task-module.js';
import { backendFor, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode, UsageError } from '../exit-codes.js';

/** On a shared queue, how long run waits for a worker to start a task of its batch before it says none has. */
const NO_WORKER_HINT_MS = 5000;
/** A batch's refused tasks named at most (the rest counted). */
const MAX_REFUSALS_SHOWN = 20;
/** Looks and submits of a batch that another run of it submits at the same moment (see runCommand). */
const SUBMIT_TRIES = 3;

/** Options of `taskforge run`. */
export interface RunCommandOptions extends CommonOptions {
  readonly concurrency: number;
  readonly queue: string;
  readonly aging?: number;
  /** A module whose default export maps custom task type names to task classes. */
  readonly tasks?: string;
}

/**
 * Runs a batch of task configs through the orchestrator; prints each result
 * as it finishes (--json) or a summary. On a queue of this process the
 * tasks run here; on a Redis queue they run on its workers (`taskforge
 * worker`), and this process submits them and waits for every result.
 * Tasks a durable queue holds already (an earlier run of the same batch)
 * are not submitted again: their results are reported, or awaited. Ctrl-C:
 * here, waiting tasks are cancelled and running ones get 10 s; on Redis,
 * the tasks go on in the queue (the same command again waits for them).
 */
export async function runCommand(file: string, options: RunCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const source = file === '-' ? 'stdin' : file;
  const choice = chooseQueue(options.queue);
  const shared = choice.redis !== undefined;
  // Silently ignored, it would read as where the batch's objects go: they go where each worker stores.
  if (shared && options.root !== undefined) {
    throw new UsageError(`--root does not apply to run --queue ${options.queue}: the workers run the batch and store under their own --root (give it to taskforge worker)`);
  }
  const taskTypes = options.tasks === undefined ? {} : await loadTaskModule(options.tasks, process.cwd());
  const bytes = await readInput(file, streams);
  // The context the tasks are made with here; on Redis, the workers make them with their own.
  const context = shared ? {} : { backend: backendFor(options, streams.env) };
  const batch = batchTasks(bytes, source, { taskTypes, context, keysElsewhere: shared, tasksOption: options.tasks });
  const queue = await openCliQueue(choice, options.aging === undefined ? {} : { aging: options.aging });
  let orchestrator: AnyOrchestrator;
  try {
    orchestrator = new Orchestrator({ concurrency: shared ? 0 : options.concurrency, queue, context, taskTypes });
  } catch (error) {
    await queue.close();
    throw error;
  }
  const view = new BatchView(orchestrator, batch, options, streams);
  const stopTelling = tellConnectionChanges(queue, streams, 'taskforge');
  const lost = { count: 0, example: '' };
  orchestrator.on('error', (event) => {
    if (event.error.code !== ErrorCode.LOST) return;
    lost.count += 1;
    if (lost.count === 1) lost.example = event.error.message;
  });
  /** Tasks the queue holds of a type not registered here (see LocalQueue.waitingToRun): they stay waiting. */
  let heldBack: number;
  /** Tasks of an earlier run that could not be waited for. */
  const unwaited = { count: 0 };
  const interruption = Interruption.watch(streams);
  let stopHint: (() => void) | undefined;
  interruption.signal.addEventListener('abort', () => {
    const why = interruption.outputClosed ? 'the output was closed' : `interrupted by ${interruption.by ?? 'a signal'}`;
    const again = `${interruption.outputClosed ? 'Ctrl-C' : 'again'} to stop at once`;
    const what = shared
      ? 'the tasks go on in the queue (run the same command again to wait for them)'
      : queue.durable
        ? `running tasks get 10 s to finish (${again}); what waits, or is cut off, stays in the queue: the same command again runs it`
        : `waiting tasks are cancelled, running ones get 10 s to finish (${again})`;
    streams.stderr.write(`${interruption.outputClosed ? '' : afterCaret(streams)}taskforge: ${why}; ${what}\n`);
    orchestrator.shutdown({ timeoutMs: 10_000 }).catch(reportFailure(streams, 'stopping the orchestrator failed'));
  });
  try {
    // A durable queue may hold this batch from an earlier run: what it knows is not submitted again, and is reported.
    // The same batch run at the same moment elsewhere (two cron jobs) may submit some of it between the look and the
    // submit, which is refused whole (ALREADY_EXISTS): looked at again, what it submitted is then awaited as known.
    let known: (TaskView | undefined)[] = [];
    let fresh: typeof batch = [];
    for (let tries = 1; ; tries += 1) {
      known = queue.durable ? await Promise.all(batch.map(({ config }) => orchestrator.get(config.id))) : batch.map(() => undefined);
      if (tries === 1) await sayOthersRun(queue, known, streams);
      fresh = batch.filter((_task, index) => known[index] === undefined);
      try {
        await orchestrator.submitAll(fresh.map(({ config }) => config));
        break;
      } catch (error) {
        if (isTaskforgeError(error) && error.code === ErrorCode.ALREADY_EXISTS && queue.durable && tries < SUBMIT_TRIES) continue;
        if (isTaskforgeError(error)) throw new UsageError(submitRefusal(error, fresh, source));
        throw error;
      }
    }
    view.start(batch.length);
    const waits: Promise<void>[] = [];
    for (const [index, task] of known.entries()) {
      if (task === undefined) continue;
      // Ended already: count it now. Else its end comes through the same events as the others'.
      if (task.result !== undefined) {
        view.record(task.result, true);
        continue;
      }
      const { config, from, idGiven } = batch[index] ?? { config: { id: '' }, from: '', idGiven: true };
      // Awaited (not only onIdle): on a shared queue this process watches the task only once result() has looked it up.
      waits.push(
        orchestrator.result(config.id).then(
          // (Its end is told as an event too; one that came between the look and the wait is told only here. Recorded once either way.)
          (result) => {
            view.record(result);
          },
          (error: unknown) => {
            unwaited.count += 1;
            streams.stderr.write(`taskforge: cannot wait for task ${idGiven ? `'${config.id}'` : `at ${from}`}: ${error instanceof Error ? error.message : String(error)}\n`);
          },
        ),
      );
    }
    sayResumed(streams, orchestrator.queueName, batch.length, fresh.length, view.recorded);
    if (shared) stopHint = hintWhenNoWorker(view, batch, queue, streams, orchestrator.queueName);
    await Promise.all(waits);
    await orchestrator.onIdle();
  } finally {
    interruption.stop();
    stopTelling();
    stopHint?.();
    // (Counted before the shutdown closes the queue.)
    heldBack = queue instanceof LocalQueue ? queue.heldBack : 0;
    await orchestrator.shutdown();
    view.stop();
  }
  const abandoned = orchestrator.shutdownReport?.abandoned ?? [];
  if (abandoned.length > 0) {
    const where = queue.durable ? `${abandoned.length === 1 ? 'it stays' : 'they stay'} in ${orchestrator.queueName} and ${abandoned.length === 1 ? 'runs' : 'run'} again` : `the process does not wait for ${abandoned.length === 1 ? 'its' : 'their'} work`;
    streams.stderr.write(`taskforge: ${plural(abandoned.length, 'task')} ignored the cancellation for ${String(STOP_GRACE_MS)} ms and ${abandoned.length === 1 ? 'was' : 'were'} given up (${listed(abandoned)}): ${where}\n`);
    // Their work would hold the process until it ends.
    exitOnceReturned(0);
  }
  const kept = queue.durable && !shared ? keptCount(orchestrator.shutdownReport) - heldBack : 0;
  if (kept > 0) streams.stderr.write(`taskforge: ${plural(kept, 'task')} ${kept === 1 ? 'stays' : 'stay'} in ${orchestrator.queueName}, unfinished: the same command again runs ${kept === 1 ? 'it' : 'them'}\n`);
  if (heldBack > 0) {
    streams.stderr.write(`taskforge: ${plural(heldBack, 'task')} ${heldBack === 1 ? 'stays' : 'stay'} in ${orchestrator.queueName}, waiting on a task type this run does not register: a run given it (--tasks) runs ${heldBack === 1 ? 'it' : 'them'}\n`);
  }
  // (On Redis the workers listed their own storage: not this process's to look at.)
  if (view.listedNothing && context.backend !== undefined) await sayIfRootMissing(context.backend, streams);
  if (lost.count > 0) streams.stderr.write(`taskforge: LOST: ${String(lost.count)} tasks were lost by the queue, e.g. ${lost.example}\n`);
  return view.failed > 0 || interruption.signal.aborted || unwaited.count > 0 ? ExitCode.TASK_FAILED : ExitCode.OK;
}

/** Tasks a durable queue kept at shutdown: those waiting and those the timeout cut off (and gave up). */
function keptCount(report: ShutdownReport | undefined): number {
  return report === undefined ? 0 : report.waiting + report.cutOff.length;
}

/**
 * A SQLite queue may hold unfinished tasks of other batches (an earlier run
 * stopped): this run runs them too, and waits for them, though its table
 * shows only its own batch. Said, so that its time is not a mystery.
 */
async function sayOthersRun(queue: TaskQueue, known: readonly (TaskView | undefined)[], streams: CliStreams): Promise<void> {
  if (!(queue instanceof LocalQueue) || !queue.durable) return;
  const { waiting, running } = await queue.counts();
  const ours = known.filter((task) => task !== undefined && task.result === undefined).length;
  const others = waiting + running - ours - queue.heldBack;
  if (others <= 0) return;
  streams.stderr.write(`taskforge: ${queue.name} also holds ${plural(others, 'unfinished task')} of other batches: ${others === 1 ? 'it runs' : 'they run'} now too, and this run waits for ${others === 1 ? 'it' : 'them'} (${others === 1 ? 'it is' : 'they are'} not in its table)\n`);
}

/** Says how much of the batch an earlier run on the same durable queue had done already. */
function sayResumed(streams: CliStreams, queueName: string, total: number, submitted: number, ended: number): void {
  if (submitted === total) return;
  const unfinished = total - submitted - ended;
  const parts = [`${String(ended)} of its ${String(total)} tasks ${ended === 1 ? 'has' : 'have'} ended (reported below)`];
  if (unfinished > 0) parts.push(`${String(unfinished)} ${unfinished === 1 ? 'is' : 'are'} unfinished and awaited`);
  if (submitted > 0) parts.push(`${String(submitted)} submitted now`);
  const afresh = ended === total ? '; to run it afresh, give its tasks new ids or use another queue' : '';
  streams.stderr.write(`taskforge: this batch is already in ${queueName}: ${parts.join(', ')}${afresh}\n`);
}

/** How the configs of a batch are checked. */
interface BatchCheck {
  /** The custom types of --tasks. */
  readonly taskTypes: TaskTypes;
  /** What a custom task is made with to check its config. */
  readonly context: object;
  /** The tasks run on workers, whose keys count, not this process's. */
  readonly keysElsewhere: boolean;
  /** The --tasks module, for messages. */
  readonly tasksOption: string | undefined;
}

/**
 * The batch's tasks, checked (nothing runs unless every one is good), each
 * with an id and where it came from. Every refused task is named at once
 * (up to MAX_REFUSALS_SHOWN of them), not only the first: a batch with three
 * mistakes is mended in one round, not three.
 */
function batchTasks(bytes: Buffer, source: string, check: BatchCheck): BatchTask[] {
  const entries = parseBatch(bytes, source);
  const prefix = batchIdPrefix(bytes);
  const refusals: string[] = [];
  for (const [index, { config, from }] of entries.entries()) {
    try {
      checkConfig(config, from, check, `${prefix}-${String(index + 1)}`);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      refusals.push(error.message);
    }
  }
  if (refusals.length === 1) throw new UsageError(refusals[0] ?? '');
  if (refusals.length > 1) {
    const shown = refusals.slice(0, MAX_REFUSALS_SHOWN);
    const more = refusals.length > shown.length ? `\ntaskforge: … and ${String(refusals.length - shown.length)} more` : '';
    throw new UsageError(`${shown.join('\ntaskforge: ')}${more}\ntaskforge: ${String(refusals.length)} of the batch's ${String(entries.length)} tasks are refused; nothing ran`);
  }
  return entries.map(({ config, from }, index) => {
    const located = withAbsoluteFile(config as TaskConfig);
    const given = located.id;
    return given === undefined
      ? { config: withId(located, `${prefix}-${String(index + 1)}`), from, idGiven: false }
      : { config: located as TaskConfig & { id: string }, from, idGiven: true };
  });
}

/**
 * A storage write's `file` named from this command's working directory, so
 * that a worker (whose own directory may be another) reads the same file.
 */
function withAbsoluteFile(config: TaskConfig): TaskConfig {
  const metadata = config.metadata as { file?: unknown } | undefined;
  if (config.type !== TaskType.STORAGE || typeof metadata?.file !== 'string' || isAbsolute(metadata.file)) return config;
  return { ...config, metadata: { ...metadata, file: resolve(metadata.file) } };
}

/** A rejection handler for work let go from a signal handler: says what failed on stderr. */
function reportFailure(streams: CliStreams, what: string): (error: unknown) => void {
  return (error) => {
    streams.stderr.write(`taskforge: ${what}: ${error instanceof Error ? error.message : String(error)}\n`);
  };
}

/** The batch's bytes (hashed as they are for the ids: hashing the decoded text would encode it all again). */
async function readInput(file: string, streams: CliStreams): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of streams.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    return Buffer.concat(chunks);
  }
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `no such file '${file}'` : `cannot read '${file}': ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Refuses a config that could never run, before anything runs: the whole
 * batch is checked first. A custom type's config is checked by its class, as
 * the orchestrator checks it at submit; `id`: the id it gets when it has none.
 */
function checkConfig(config: unknown, from: string, check: BatchCheck, id: string): void {
  const where = `${from}${idSuffix(config)}`;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new UsageError(`${where}: expected a task config object`);
  const type = (config as { type?: unknown }).type;
  if (type === TaskType.STORAGE) {
    const checked = validateTaskConfig(config);
    if (!checked.ok && check.keysElsewhere && checked.error.code === ErrorCode.KEY_NOT_FOUND) return;
    // The message's own "invalid storage task '…': " is left out: the line names the task.
    if (!checked.ok) throw new UsageError(`${where}: ${checked.error.code}: ${checked.error.message.replace(/^(invalid )?storage task '[^']*': /, '')}`);
    return;
  }
  const taskClass = typeof type === 'string' && Object.hasOwn(check.taskTypes, type) ? check.taskTypes[type] : undefined;
  if (taskClass === undefined) {
    const custom = Object.keys(check.taskTypes);
    const expected = check.tasksOption === undefined ? "'storage' (custom types come from --tasks MODULE)" : `'storage' or a type of --tasks ${check.tasksOption} (${custom.join(', ')})`;
    throw new UsageError(`${where}: type: expected ${expected} (got ${type === undefined ? 'nothing' : JSON.stringify(type)})`);
  }
  const given = (config as TaskConfig).id;
  try {
    runConfigCheck(configCheckOf(taskClass), type as string, config as TaskConfig, given ?? id, '', check.context);
  } catch (error) {
    if (!isTaskforgeError(error)) throw error;
    throw new UsageError(`${where}: ${error.code}: ${error.message.replace(/^(invalid )?([a-z][a-z0-9._-]* )?task '[^']*': /, '')}`);
  }
}

/**
 * What the queue's refusal of the batch says, naming the task as the checks
 * before submit do (`batch.ndjson:3 (id 'x')`), not by its place among the
 * tasks submitted (`[2].`: those of a resumed batch that were not known).
 */
function submitRefusal(error: TaskforgeError, submitted: readonly BatchTask[], source: string): string {
  const at = /^\[(\d+)\]\.(.*)$/s.exec(error.message);
  const task = at === null ? undefined : submitted[Number(at[1])];
  if (at === null || task === undefined) return `${source}: ${error.code}: ${error.message}`;
  return `${task.from}${task.idGiven ? ` (id '${task.config.id}')` : ''}: ${error.code}: ${at[2] ?? ''}`;
}

function idSuffix(config: unknown): string {
  const id = config !== null && typeof config === 'object' ? (config as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? ` (id '${id}')` : '';
}

/**
 * On a shared queue nothing runs here: a batch nobody takes waits in
 * silence (stdout is the results', and only a terminal gets live
 * progress). Said once, NO_WORKER_HINT_MS after the batch went in: of each
 * type of its unended tasks that no worker on the queue's roster
 * registers, that its tasks wait for one (a worker takes only the types it
 * registers); else, when no task of the batch has started or ended, that
 * none has. Returns how to stop it (nothing is said after).
 */
function hintWhenNoWorker(view: BatchView, batch: readonly BatchTask[], queue: TaskQueue, streams: CliStreams, queueName: string): () => void {
  let stopped = false;
  const say = async (): Promise<void> => {
    const workers = (await queueWorkers(queue)) ?? [];
    const unended = batch.filter((task) => !view.hasEnded(task.config.id)).map((task) => task.config.type);
    const unrun = workers.length === 0 ? [] : typesNoneRuns(unended, workers);
    if (stopped) return;
    for (const type of unrun) {
      const count = unended.filter((each) => each === type).length;
      streams.stderr.write(
        `taskforge: ${plural(count, 'task')} of this batch ${count === 1 ? 'is' : 'are'} of type '${type}', which no worker of the queue registers (${plural(workers.length, 'worker')} ${workers.length === 1 ? 'takes' : 'take'} from it): waiting for one (taskforge worker --queue ${queueName} --tasks MODULE)\n`,
      );
    }
    if (unrun.length === 0 && !view.heardOfAny) {
      streams.stderr.write(`taskforge: no task of this batch has started in ${String(NO_WORKER_HINT_MS / 1000)} s: the queue's workers are busy, or none runs (start one: taskforge worker --queue ${queueName}); waiting\n`);
    }
  };
  const timer = setTimeout(() => {
    // (A roster Redis does not answer is no roster: then only the general hint can be given.)
    say().catch(() => undefined);
  }, NO_WORKER_HINT_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
