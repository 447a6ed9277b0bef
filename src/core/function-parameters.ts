/** Answers already given, per function: a class's method is asked about once per task. */
const answers = new WeakMap<object, boolean>();

/**
 * Whether a function can see the arguments it is called with: it declares a
 * parameter (default values and rest parameters included, which
 * `Function.length` does not count) or reads `arguments`. Judged from its
 * source, once per function; one whose source is not shown (native, bound)
 * is taken to see them.
 */
export function declaresParameters(fn: (...args: never[]) => unknown): boolean {
  let answer = answers.get(fn);
  if (answer === undefined) {
    answer = fn.length > 0 || !hasEmptyParameterList(Function.prototype.toString.call(fn));
    answers.set(fn, answer);
  }
  return answer;
}

function hasEmptyParameterList(source: string): boolean {
  if (source.includes('[native code]') || /\barguments\b/.test(source)) return false;
  // `name() {`, `async name() {`, `() =>`, `function () {`: nothing between the first parentheses.
  return /^[^(]*\(\s*\)/.test(source);
}
