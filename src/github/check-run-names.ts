/** The names the app's check runs and commit statuses go by: one per image, one for the config, one for an unserved account. */
export const checkRunName = (image: string): string => `buildkit-bot / ${image}`;
export const statusContext = (image: string): string => `buildkit-bot/${image}`;
export const CONFIG_CHECK_RUN_NAME = "buildkit-bot / config";
/** The one run of an event whose account the operator does not serve. */
export const ACCOUNT_CHECK_RUN_NAME = "buildkit-bot";
