// Module resolution hooks for `--tasks MODULE`, registered with node:module's
// register() by task-module.ts. They run on Node's hooks thread, so they
// import nothing of taskforge.

/** What task-module.ts gives the hooks when it registers them. */
export interface TaskModuleHooksData {
  /** The URL of the running command's own `taskforge` entry point. */
  readonly taskforgeUrl: string;
  /** The directory a package name given to --tasks is looked up from (the current directory), as a URL ending in '/'. */
  readonly lookupFromUrl: string;
}

/** The prefix of a specifier that names a --tasks package, to be looked up from the current directory. */
export const TASKS_PACKAGE_PREFIX = 'taskforge-tasks-package:';
/** The code of the error thrown when no --tasks package is found. */
export const TASKS_PACKAGE_NOT_FOUND = 'TASKFORGE_TASKS_PACKAGE_NOT_FOUND';

interface ResolveContext {
  readonly parentURL?: string | undefined;
  readonly conditions: readonly string[];
  readonly importAttributes: Readonly<Record<string, string>>;
}

interface ResolveResult {
  readonly url: string;
  readonly format?: string | null;
  readonly shortCircuit?: boolean;
}

type NextResolve = (specifier: string, context?: Partial<ResolveContext>) => ResolveResult | Promise<ResolveResult>;

let data: TaskModuleHooksData | undefined;

export function initialize(given: TaskModuleHooksData): void {
  data = given;
}

/**
 * `taskforge` is the running command's own copy, whatever the importing
 * module would find on its own: its task classes then extend the very
 * BaseTask the command's registry checks for, and throw the errors it
 * knows. A package named by --tasks is looked up from the current
 * directory, as `node --import` does.
 */
export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<ResolveResult> {
  if (data === undefined) return nextResolve(specifier, context);
  if (specifier === 'taskforge') return { url: data.taskforgeUrl, shortCircuit: true };
  if (specifier.startsWith(TASKS_PACKAGE_PREFIX)) {
    const name = specifier.slice(TASKS_PACKAGE_PREFIX.length);
    try {
      return await nextResolve(name, { ...context, parentURL: data.lookupFromUrl });
    } catch (error) {
      const notFound = new Error(error instanceof Error ? error.message : String(error));
      (notFound as Error & { code: string }).code = TASKS_PACKAGE_NOT_FOUND;
      throw notFound;
    }
  }
  return nextResolve(specifier, context);
}
