import { TURN_PRIORITY } from "./build-class.js";

/**
 * A turn: a BullMQ job in the builds queue that stands for "a worker slot is free, let the next build through"
 * (see fair-share.ts). It carries nothing; turns are interchangeable and leave no trace once done.
 */
export const TURN_JOB_NAME = "~turn";

export interface TurnData {
  turn: true;
}

export function turnJob(): { name: string; data: TurnData; opts: { priority: number; attempts: number; removeOnComplete: true; removeOnFail: true } } {
  return { name: TURN_JOB_NAME, data: { turn: true }, opts: { priority: TURN_PRIORITY, attempts: 1, removeOnComplete: true, removeOnFail: true } };
}

export function isTurn(data: unknown): data is TurnData {
  return typeof data === "object" && data !== null && (data as Partial<TurnData>).turn === true && !("buildId" in data);
}
