export { classifySolveError, classifyPushError, stripCredentials } from "./classify.js";
export type { ClassifyContext } from "./classify.js";
export { decodeErrorDetails } from "./error-details.js";
export type { ErrorDetails, ErrorSource } from "./error-details.js";
export { locateStep } from "./locate-step.js";
export { parseDockerfile, countedInstructions } from "./dockerfile-instructions.js";
export type { DockerfileInstruction, DockerfileStage, ParsedDockerfile } from "./dockerfile-instructions.js";
