// What the app serves people and operators: the build log page and the queue view.
export { createLogPageHandler } from "./log-page-handler.js";
export { createQueueBoardHandler } from "./queue-board.js";
export type { QueueBoardOptions } from "./queue-board.js";
