// eslint-disable-next-line no-control-regex -- matching terminal escapes is the point
const ANSI = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;

/** Removes terminal escape sequences (GitHub shows them as garbage). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}
