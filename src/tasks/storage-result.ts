import type { SourceFileFacts } from '../storage/file-source.js';
import type { ListPage } from '../storage/backend.js';
import type { ReadFormValues } from '../storage/content.js';
import type { ReadForm, StorageOperation, StorageTaskConfig } from './storage-task-config.js';

/** `data` of a completed write. */
export interface WriteResultData {
  readonly path: string;
  /** Bytes stored. */
  readonly size: number;
  readonly modifiedAt: string;
  /** The stored object's version (changes with every write). */
  readonly version: string;
  /** A write of a local file (`metadata.file`): the file's size, mtime and mode as it was read. */
  readonly source?: SourceFileFacts;
}

/** `data` of a completed delete. */
export interface DeleteResultData {
  readonly path: string;
  /** False when nothing was there (delete is idempotent). */
  readonly deleted: boolean;
}

/** `data` of a completed list: one page. */
export type ListResultData = ListPage;

/**
 * `data` of a completed read, by its `as` option: `'buffer'` a Buffer,
 * `'text'` a string, `'stream'` a Readable, `'json'` the parsed value
 * (`unknown`: its shape is the writer's); with no `as`, the form that was
 * written, a Buffer, a string or a JSON value, so `unknown` too.
 */
export type ReadResultData<TForm extends ReadForm | undefined = ReadForm | undefined> = TForm extends ReadForm ? ReadFormValues[TForm] : unknown;

/**
 * `data` of a completed storage task, by its operation (and, for a read,
 * its `as` option). Without type arguments: any of them, which, a read's
 * JSON value being among them, is `unknown`.
 */
export type StorageResultData<TOperation extends StorageOperation = StorageOperation, TForm extends ReadForm | undefined = ReadForm | undefined> = TOperation extends 'read'
  ? ReadResultData<TForm>
  : TOperation extends 'write'
    ? WriteResultData
    : TOperation extends 'delete'
      ? DeleteResultData
      : ListResultData;

/**
 * A storage config whose operation and read form are known to the compiler
 * (from a literal such as `operation: 'write'`), so that the task's result
 * is typed by them.
 */
export type StorageTaskConfigFor<TOperation extends StorageOperation, TForm extends ReadForm | undefined> = StorageTaskConfig & {
  readonly metadata: { readonly operation: TOperation; readonly options?: { readonly as?: TForm | undefined } | undefined };
};
