import type { OrchestratorMetrics } from '../orchestrator/metrics.js';
import type { TaskView } from '../orchestrator/task-view.js';
import type { Logger } from '../core/logger.js';
import type { StorageTaskContext } from '../tasks/storage-task.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { RetainedTaskResult } from '../tasks/task-result.js';
import type { AccessRule } from './access-rule.js';
import type { Backlog } from './backlog.js';
import type { ConfigStore } from './config-store.js';
import type { EndHistory } from './end-history.js';
import type { TaskEventLog } from './task-event-log.js';
import type { EventSource, TaskFeed } from './task-feed.js';
import type { TaskTable } from './task-table.js';

/** What the server drives: an Orchestrator on any queue (on Redis, one with allEvents, submitting only). */
export interface ServedOrchestrator extends EventSource {
  submit(config: TaskConfig): { readonly id: string } | Promise<{ readonly id: string }>;
  submitAll(configs: readonly TaskConfig[]): readonly { readonly id: string }[] | Promise<readonly { readonly id: string }[]>;
  get(id: string): TaskView | undefined | Promise<TaskView | undefined>;
  /** The queue's tasks waiting or running, oldest first (listed at start: a durable queue's from before a restart). */
  unfinished?(limit: number): Promise<readonly TaskView[]>;
  cancel(id: string, reason?: string): Promise<RetainedTaskResult>;
  /** The queue's tasks waiting and running, wherever they run: for /metrics when the server records from events. */
  counts?(): Promise<{ readonly waiting: number; readonly running: number }>;
  readonly queueName?: string;
  /** Why the queue's server cannot be reached now, or undefined while it can (see Orchestrator.queueUnreachable). */
  readonly queueUnreachable?: string | undefined;
}

/** What every route is given. */
export interface RouteDeps {
  readonly orchestrator: ServedOrchestrator;
  readonly table: TaskTable;
  readonly feed: TaskFeed;
  /** Task ends per second, for the chart. */
  readonly history: EndHistory;
  /** Each task's events, for its detail. */
  readonly eventLog: TaskEventLog;
  /** The configs this server submitted: their views, and whole ones for retries. */
  readonly configs: ConfigStore;
  /** The tasks this server took that have not ended: a request past its bounds is refused. */
  readonly backlog: Backlog;
  readonly access: AccessRule;
  readonly metrics: OrchestratorMetrics;
  /** The storage the object routes use, with its keyring and cache. */
  readonly storage: StorageTaskContext;
  readonly logger: Logger;
  /** The largest object a PUT may send, in bytes. */
  readonly maxObjectBytes: number;
}
