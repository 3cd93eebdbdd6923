// What the app serves people: the build log page.
export { createLogPageHandler } from "./log-page-handler.js";
