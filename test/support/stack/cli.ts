import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startStack, stopStack } from "./stack.js";

const USAGE = "usage: stack start|stop [--root DIR]   (default root: <repo>/.stack)";
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { root: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const command = positionals[0];
  if (values.help || positionals.length !== 1 || (command !== "start" && command !== "stop")) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const root = resolve(values.root ?? join(repoRoot, ".stack"));
  if (command === "start") {
    const running = await startStack({ root });
    // Written before process.exit(), which would not wait for a piped stdout to drain.
    await new Promise<void>((done) => process.stdout.write(`${running.envFile}\n`, () => done()));
  } else {
    await stopStack(root);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
