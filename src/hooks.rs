//! The built-in hooks (HOOKS.md), defined in code and listed read-only. The engine
//! that runs hooks builds on this table.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct Builtin {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The `settings` keys it reads.
    pub settings: &'static [&'static str],
}

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        id: "builtin:auto-start",
        name: "Auto-start",
        description: "If the task has auto_start, move it to the in_progress column.",
        settings: &[],
    },
    Builtin {
        id: "builtin:run-agent",
        name: "Run agent",
        description: "Ensure the worktree, run the task's agent with the next queued message (or the first \
                      prompt), and wait for the run to end; its outcome is the hook's.",
        settings: &[],
    },
    Builtin {
        id: "builtin:move-task",
        name: "Move task",
        description: "Move the task to a column given by role, by id, or `next`.",
        settings: &["target"],
    },
    Builtin {
        id: "builtin:play-sound",
        name: "Play sound",
        description: "Tell every client showing the board to play a sound.",
        settings: &["sound"],
    },
    Builtin {
        id: "builtin:create-pr",
        name: "Create pull request",
        description: "Push the branch and open a pull request with gh.",
        settings: &["draft"],
    },
    Builtin {
        id: "builtin:refine",
        name: "Refine description",
        description: "One-shot agent call that rewrites a short description into a clear task.",
        settings: &[],
    },
];

pub fn builtin(id: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|builtin| builtin.id == id)
}
