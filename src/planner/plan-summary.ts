import type { DroppedTag } from "../config/index.js";
import type { ImagePlan } from "../queue/index.js";
import type { PlanTarget } from "./plan-target.js";
import { describeTarget } from "./plan-target.js";

const MAX_LISTED_FILES = 20;

/** Markdown for the queued check run: what will be built and why, so users can check the planner's choices. */
export function renderPlanSummary(opts: {
  plan: ImagePlan;
  target: PlanTarget;
  droppedTags: readonly DroppedTag[];
  matchedFiles?: readonly string[];
  noCache?: boolean;
  configFromFile: boolean;
}): string {
  const { plan } = opts;
  const code = (s: string): string => `\`${s}\``;
  const cacheImports = plan.cache.imports.length > 0 ? `from ${plan.cache.imports.map(code).join(" → ")}` : "no import";
  const lines = [
    `Building **${plan.name}** for ${describeTarget(opts.target)}${opts.noCache ? " without the build cache" : ""}.`,
    "",
    `- Dockerfile: \`${plan.dockerfile}\`${plan.context ? ` (context \`${plan.context}\`)` : ""}${plan.target ? `, target \`${plan.target}\`` : ""}`,
    `- Platforms: ${plan.platforms.length > 0 ? plan.platforms.join(", ") : "the builder's own"}`,
    `- ${plan.push ? "Pushed as" : "Not pushed (push policy); named"}: ${plan.tags.map((t) => `\`${t}\``).join(", ") || "no tags"}`,
    `- Cache: ${cacheImports}${plan.cache.export ? `, saved to \`${plan.cache.export}\`` : ", not saved"}`,
  ];
  if (!opts.configFromFile) lines.push("- Config: none in `.github/buildkit-bot.yml`; the root Dockerfile is built with defaults");
  for (const d of opts.droppedTags) lines.push(`- Left out \`${d.tag ?? d.template}\`: ${d.reason}`);
  if (plan.ifBranchMoved) {
    const kept = new Set(plan.ifBranchMoved.tags);
    const moving = plan.tags.filter((t) => !kept.has(t)).map(code);
    // Checked after the solve, except when no tag of the commit's own can carry the image there (see ImagePlan.ifBranchMoved).
    const when = plan.ifBranchMoved.tags.length > 0 ? "when the build is done" : "when the build starts";
    lines.push(`- ${moving.join(", ")} only if \`${plan.ifBranchMoved.branch}\` still points at this commit ${when}`);
  }
  if (opts.matchedFiles) {
    const shown = opts.matchedFiles.slice(0, MAX_LISTED_FILES).map((f) => `\`${f}\``);
    const more = opts.matchedFiles.length - shown.length;
    lines.push(`- Changed files matching \`paths\`: ${shown.join(", ")}${more > 0 ? ` and ${more} more` : ""}`);
  }
  return lines.join("\n");
}
