/** The slice of a pino logger the queue uses (Probot's `app.log` fits). */
export interface QueueLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLog: QueueLog = { info: () => {}, warn: () => {}, error: () => {} };
