//! The coding agents viban knows (A1): identity, the binary to look for, and how to
//! install it. The run adapters build on this table.

pub struct AgentInfo {
    pub id: &'static str,
    pub display_name: &'static str,
    pub binary: &'static str,
    pub install_hint: &'static str,
}

pub const KNOWN: &[AgentInfo] = &[
    AgentInfo {
        id: "claude-code",
        display_name: "Claude Code",
        binary: "claude",
        install_hint: "npm i -g @anthropic-ai/claude-code",
    },
    AgentInfo { id: "codex", display_name: "Codex", binary: "codex", install_hint: "npm i -g @openai/codex" },
    AgentInfo {
        id: "gemini",
        display_name: "Gemini CLI",
        binary: "gemini",
        install_hint: "npm i -g @google/gemini-cli",
    },
    AgentInfo {
        id: "opencode",
        display_name: "OpenCode",
        binary: "opencode",
        install_hint: "npm i -g opencode-ai",
    },
    AgentInfo {
        id: "cursor-agent",
        display_name: "Cursor Agent",
        binary: "cursor-agent",
        install_hint: "curl https://cursor.com/install -fsS | bash",
    },
    AgentInfo { id: "amp", display_name: "Amp", binary: "amp", install_hint: "npm i -g @sourcegraph/amp" },
];
