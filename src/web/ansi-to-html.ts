import { AnsiUp } from "ansi_up";

/**
 * Turns one line of terminal output into HTML with `ansi_up`: SGR colours and styles become `<span>`s, and all text is
 * escaped (the log is untrusted build output). The 16 basic colours become classes (`ansi-red-fg`,
 * `ansi-bright-green-bg`…) so the page's palette decides them; 256-colour and true-colour codes become inline colours.
 *
 * Around the library: a carriage return keeps only the last redraw, and every escape sequence other than SGR is
 * dropped first (ansi_up would print OSC hyperlinks and some others as text, or turn them into links).
 */

// CSI with any final byte but `m`, OSC up to BEL or ST (or the end of the line), any other two-byte escape, an
// escape the line ends in the middle of, or an escape byte that starts none of these (dropped alone: left in, it
// would make what follows it look like the start of a sequence, which ansi_up keeps waiting for on the next line).
// eslint-disable-next-line no-control-regex -- matching terminal escapes is the point
const NOT_SGR = /\u001b(?:\[[0-?]*[ -/]*[@-ln-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[ -/]*[0-Z\\^-~]|\[[0-?]*[ -/]*$|(?!\[[0-?]*[ -/]*m))/g;
const RESET = "\u001b[0m";

// One converter for all lines (building one costs more than converting a line). Every line ends with a reset and
// never in the middle of an escape, so no style or unfinished sequence carries over to the next line.
const converter = new AnsiUp();
converter.use_classes = true;
converter.url_allowlist = {};

export function ansiToHtml(line: string): string {
  // A carriage return redraws the line in a terminal: only what was written last stays visible.
  const cr = line.lastIndexOf("\r", line.length - 2);
  const text = (cr >= 0 ? line.slice(cr + 1) : line.replace(/\r$/, "")).replace(NOT_SGR, "");
  return converter.ansi_to_html(text + RESET);
}
