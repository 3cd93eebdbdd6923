// Text helpers that several floors need (the check run's limits, the log's line cut): they import nothing.
export { clipChars, headUtf8, tailUtf8 } from "./utf8-limits.js";
export { stripAnsi } from "./strip-ansi.js";
