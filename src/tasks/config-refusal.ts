import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { messageOf } from '../core/thrown-message.js';

/**
 * A task class's own config check that threw something other than a
 * TaskforgeError (a plain Error, a RangeError): VALIDATION_ERROR naming the
 * task, with what was thrown as its message. `where` is the config's place
 * in a batch (`[3].`), or ''. One refusal whether a submit checks the config
 * or the task runs it standalone.
 */
export function configRefusal(thrown: unknown, type: string, id: string, where = ''): TaskforgeError {
  const message = messageOf(thrown);
  const prefix = where === '' ? '' : `${where.slice(0, -1)}: `;
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `${prefix}invalid ${type} task '${id}': ${message}`, {
    cause: thrown,
    details: { fields: [{ field: `${where}(config)`, message, received: '' }] },
  });
}
