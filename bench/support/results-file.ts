import { readFile, writeFile } from "node:fs/promises";

/**
 * BENCHMARKS.md keeps one section per benchmark between markers, so running one benchmark
 * (`npm run bench -- <name>`) replaces only its own section and keeps the others' latest results.
 */
const header = (names: readonly string[]): string => `# Benchmarks

Every speed target of buildkit-bot is stated here, and only here. \`npm run bench\` (\`bash scripts/bench.sh\`)
starts its own stack (a private Docker Engine with its embedded BuildKit, a private standalone buildkitd v0.24.0 as
production runs it, Redis and a registry; all stopped by PID at the end), runs every benchmark, prints the tables and rewrites the sections below; \`npm run bench -- <name>\`
runs one (${names.map((n) => `\`${n}\``).join(", ")}).
Benchmarks are never timed assertions in the test suite. Absolute times on a shared 2-CPU machine are noisy:
compare the ratios, measured side by side in one run (runs alternate A/B so drift hits both), and read medians
with their spread.
`;

const start = (name: string) => `<!-- bench:${name}:start -->`;
const end = (name: string) => `<!-- bench:${name}:end -->`;

export async function writeSection(file: string, order: readonly string[], name: string, body: string): Promise<void> {
  const current = await readFile(file, "utf8").catch(() => "");
  const sections = new Map<string, string>();
  for (const n of order) {
    const i = current.indexOf(start(n));
    const j = current.indexOf(end(n));
    if (i >= 0 && j > i) sections.set(n, current.slice(i + start(n).length, j).trim());
  }
  sections.set(name, body.trim());
  const parts = [header(order)];
  for (const n of order) {
    parts.push(`${start(n)}\n${sections.get(n) ?? `_${n}: not run yet._`}\n${end(n)}\n`);
  }
  await writeFile(file, parts.join("\n"));
}
