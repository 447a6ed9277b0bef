/**
 * taskforge: typed tasks with one lifecycle, and a StorageTask that reads,
 * writes, deletes and lists objects on a storage backend.
 *
 * What users construct, call, catch and type, and nothing of how it works
 * inside (the priority heap, BullMQ's priority mapping, path parsing): those
 * can change without a user noticing. Nothing here loads bullmq, ioredis,
 * the AWS SDK, fastify or prom-client until it is used
 * (test/package-loads.test.ts checks it on the built package).
 */
export { ErrorCode, TaskforgeError, isTaskforgeError } from './core/errors.js';
export type { TaskErrorInfo, TaskforgeErrorOptions } from './core/errors.js';
export { parseOrThrow } from './core/validation.js';
export type { FieldProblem } from './core/validation.js';
export type { Logger, LogFn } from './core/logger.js';
export type { RetryPolicy } from './core/backoff.js';

export { TaskType, TASK_TYPE_PATTERN } from './tasks/task-type.js';
export type { BuiltInTaskType, TaskTypeName } from './tasks/task-type.js';
export { TaskStatus } from './tasks/task-status.js';
export type { FinalTaskStatus } from './tasks/task-status.js';
export { taskConfigSchema, attemptOptionsSchema } from './tasks/task-config.js';
export type { TaskConfig, ValidTaskConfig, AttemptOptions } from './tasks/task-config.js';
export {
  storageTaskConfigSchema,
  storageMetadataSchema,
  storageOptionsSchema,
  StorageOperation,
  ReadForm,
  DEFAULT_LIST_LIMIT,
  MAX_LIST_LIMIT,
} from './tasks/storage-task-config.js';
export type { StorageTaskConfig, StorageMetadata, StorageOptions, ValidStorageTaskConfig } from './tasks/storage-task-config.js';
export type { TaskResult, CompletedTaskResult, FailedTaskResult, RetainedTaskResult, RetainedCompletedResult, TaskResultBase } from './tasks/task-result.js';
export type {
  TaskEvents,
  TaskEventBase,
  TaskStartEvent,
  TaskErrorEvent,
  TaskCancelEvent,
  TaskCleanupEvent,
  TaskRetryEvent,
  TaskProgressEvent,
} from './tasks/task-events.js';
export { BaseTask } from './tasks/base-task.js';
export type { TaskContext, AttemptContext } from './tasks/base-task.js';
export { StorageTask } from './tasks/storage-task.js';
export type { StorageTaskContext } from './tasks/storage-task.js';
export type { StorageResultData, ReadResultData, WriteResultData, DeleteResultData, ListResultData, StorageTaskConfigFor } from './tasks/storage-result.js';
export type { ReadFormValues } from './storage/content.js';
export { validateTaskConfig, validateStorageTaskConfig } from './tasks/validate.js';
export type { ValidationResult, ValidateOptions } from './tasks/validate.js';

export type { StorageBackend, ObjectInfo, ObjectMetadata, OpenedObject, ListEntry, ListPage, ListOptions, WriteOptions, EntryType } from './storage/backend.js';
export { FileSystemBackend } from './storage/backends/filesystem.js';
export type { FileSystemBackendOptions } from './storage/backends/filesystem.js';
export type { SweepReport } from './storage/backends/filesystem-sweep.js';
export { MemoryBackend } from './storage/backends/memory.js';
export type { MemoryBackendOptions } from './storage/backends/memory.js';
export { defaultBackend, DEFAULT_STORAGE_ROOT } from './storage/default-backend.js';
export { Keyring, fingerprint as keyFingerprint, KEY_BYTES } from './storage/codec/keyring.js';
export type { KeyringOptions } from './storage/codec/keyring.js';
export { rekeyObject } from './storage/rekey.js';
export { ReadCache, defaultReadCache, DEFAULT_CACHE_BYTES } from './storage/read-cache.js';
export type { ReadCacheOptions, ReadCacheStats, CachedObject } from './storage/read-cache.js';
export type { RekeyOptions, RekeyResult } from './storage/rekey.js';
export { DEFAULT_COMPRESSION } from './tasks/storage-task-prepare.js';
export type { CompressionAlgorithm } from './storage/codec/container-format.js';

export { Orchestrator, DEFAULT_CONCURRENCY, DEFAULT_SHUTDOWN_TIMEOUT_MS, DEFAULT_MAX_INTERRUPTIONS } from './orchestrator/orchestrator.js';
export type { OrchestratorOptions, TaskView, ShutdownOptions, ShutdownReport, AnyOrchestrator, ResultFormOf } from './orchestrator/orchestrator.js';
export { TaskHandle } from './orchestrator/task-handle.js';
export type { ResultForm, HandleResult } from './orchestrator/task-handle.js';
export type { OrchestratorEvents, TaskSubmitEvent } from './orchestrator/orchestrator-events.js';
export type { SubmitOptions, SubmittedData } from './orchestrator/submission.js';
export type { TaskClass, RunnableTask } from './orchestrator/task-registry.js';
export type { TaskQueue, QueuedTask, TakenTask, TaskMeta, TaskState, SubmitOutcome, CancelOutcome, QueueConsumer, Consumption, QueueListener, QueueTaskEvents, QueueSubmitOptions, FinishedTask, RetentionOptions } from './orchestrator/task-queue.js';
export { storeTree } from './orchestrator/trees/tree-store.js';
export type { StoreTreeOptions } from './orchestrator/trees/tree-store.js';
export { restoreTree } from './orchestrator/trees/tree-restore.js';
export type { RestoreTreeOptions } from './orchestrator/trees/tree-restore.js';
export type { FileOutcome, TreeProgress, TreeSummary } from './orchestrator/trees/tree-tally.js';
export type { SourceFileFacts } from './storage/file-source.js';
export { MemoryQueue, DEFAULT_MEMORY_RETENTION } from './orchestrator/queues/memory-queue.js';
export type { MemoryQueueOptions } from './orchestrator/queues/memory-queue.js';
export { OrchestratorMetrics } from './orchestrator/metrics.js';
export type { OrchestratorMetricsOptions } from './orchestrator/metrics.js';
export { MAX_RETAINED_DATA_BYTES } from './orchestrator/retained-result.js';
export { SqliteQueue, DEFAULT_SQLITE_RETENTION, DEFAULT_SQLITE_RETENTION_MS } from './orchestrator/queues/sqlite-queue.js';
export type { SqliteQueueOptions } from './orchestrator/queues/sqlite-queue.js';
export { S3Backend } from './storage/backends/s3.js';
export type { S3BackendOptions } from './storage/backends/s3.js';
export { backendFromUrl } from './storage/storage-url.js';
export { RedisQueue, DEFAULT_REDIS_RETENTION, DEFAULT_REDIS_RETENTION_MS, DEFAULT_LOCK_DURATION_MS } from './distributed/redis-queue.js';
export type { RedisQueueOptions } from './distributed/redis-queue.js';
export { STOP_GRACE_MS } from './orchestrator/task-queue.js';
export { startServer } from './server/start-server.js';
export type { ServerOptions, TaskforgeServer } from './server/create-server.js';
