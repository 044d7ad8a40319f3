// A board's permission policy (M3; docs/approvals.md) in words, for the board settings
// and the task panel. Which agents can ask is the server's (`Availability.can_ask`).

export type PermissionPolicy = "ask" | "accept_edits" | "bypass";

export const POLICIES: { value: PermissionPolicy; label: string; hint: string }[] = [
  {
    value: "ask",
    label: "Ask",
    hint: "Claude Code asks here before a tool call that needs approval, and waits for you. Agents that cannot ask run as “Accept edits”.",
  },
  {
    value: "accept_edits",
    label: "Accept edits",
    hint: "File edits without asking; anything else that would need approval is denied.",
  },
  {
    value: "bypass",
    label: "Bypass",
    hint: "Everything without asking. When viban runs as root, Claude Code refuses this and runs as “Accept edits”.",
  },
];

/** The policy a board's settings name, or null for viban's default. */
export function policyOf(settings: unknown): PermissionPolicy | null {
  const value = (settings as { permission_policy?: unknown } | null)?.permission_policy;
  return POLICIES.some((policy) => policy.value === value) ? (value as PermissionPolicy) : null;
}

/** What the policy means for one agent: `canAsk` is null while agents are loading. */
export function describePolicy(policy: PermissionPolicy | null, agentName: string, canAsk: boolean | null): string {
  switch (policy) {
    case "ask":
      return canAsk === false
        ? `Ask — but ${agentName} cannot ask in non-interactive mode, so it runs as “Accept edits”`
        : "Ask — its tool calls that need approval wait for you here";
    case "accept_edits":
      return "Accept edits — other tool calls that need approval are denied";
    case "bypass":
      return "Bypass — nothing is asked (as root, Claude Code runs as “Accept edits”)";
    default:
      return "viban's default — bypass, or “Accept edits” when viban runs as root";
  }
}
