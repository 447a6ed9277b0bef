/**
 * Control characters (C0, DEL, C1): in a name or an id they would reach a
 * terminal or a log line as they are, where an escape sequence can rewrite
 * the screen and a line break can forge a line. Paths and task ids refuse
 * them; names from elsewhere that hold one are not listed.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** The first control character of `text`, as `U+001B`; undefined when it has none. */
export function controlCharacterIn(text: string): string | undefined {
  const found = CONTROL_CHARACTER.exec(text)?.[0];
  return found === undefined ? undefined : `U+${found.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `text` with each control character written as its escape (`\n`, `\u001b`), safe to print anywhere. */
export function printable(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (character) => JSON.stringify(character).slice(1, -1));
}
