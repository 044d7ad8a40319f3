//! Column hooks (`docs/hooks.md`): the built-ins, defined in code and listed read-only
//! ([`BUILTINS`]); what one queued hook does ([`Step`], parsed once from its row); and
//! the engine that claims and runs them ([`engine`]).

pub mod engine;
mod refine;
mod script;
mod steps;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::boards::ColumnRole;
use crate::db::hooks::{Hook, HookKind};

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
        description: "Push the task's branch to origin and open a pull request with gh (title and body from \
                      the task and its last run); `draft` overrides the board's `pr_draft` setting.",
        settings: &["draft"],
    },
    Builtin {
        id: "builtin:refine",
        name: "Refine description",
        description: "One-shot call of the task's agent that rewrites the description into an objective, \
                      acceptance criteria and a scope, keeping the original under \"Original request\".",
        settings: &[],
    },
];

pub fn builtin(id: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|builtin| builtin.id == id)
}

/// What one hook execution does, copied from its hook when it is queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// If the task has `auto_start`, move it to the `in_progress` column.
    AutoStart,
    /// Run the task's agent on the next queued message (or the first prompt), until no
    /// message is left; the run's outcome is the step's.
    RunAgent,
    MoveTask {
        target: Target,
    },
    /// Every client showing the board plays `sound`.
    PlaySound {
        sound: String,
    },
    /// Push the branch and open a pull request (`board::pull_requests::create`);
    /// `draft` overrides the board's `pr_draft` setting.
    CreatePr {
        #[serde(default)]
        draft: Option<bool>,
    },
    /// A one-shot agent call that rewrites the description (`hooks::refine`).
    Refine,
    /// A shell script in the task's worktree.
    Script {
        command: String,
        timeout_seconds: i32,
    },
    /// A prompt run by an agent in the task's worktree.
    Agent {
        prompt: String,
        agent: Option<String>,
    },
    /// A hook that could not be made into a step: running it fails with `message`.
    Invalid {
        message: String,
    },
}

/// Where `builtin:move-task` moves a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The first column with this role.
    Role(ColumnRole),
    /// This column of the board.
    ColumnId(Uuid),
    /// The column after the task's.
    Next,
}

impl Step {
    /// The step of an attachment: a built-in with its settings, or a board hook.
    pub fn of(builtin: Option<&str>, settings: &serde_json::Value, hook: Option<&Hook>) -> Self {
        Self::parse(builtin, settings, hook).unwrap_or_else(|message| Self::Invalid { message })
    }

    fn parse(
        builtin: Option<&str>,
        settings: &serde_json::Value,
        hook: Option<&Hook>,
    ) -> Result<Self, String> {
        if let Some(hook) = hook {
            return Ok(match hook.kind {
                HookKind::Script => Self::Script {
                    command: hook.command.clone().unwrap_or_default(),
                    timeout_seconds: hook.timeout_seconds,
                },
                HookKind::Agent => {
                    Self::Agent { prompt: hook.prompt.clone().unwrap_or_default(), agent: hook.agent.clone() }
                }
            });
        }
        let setting = |name: &str| settings.get(name);
        match builtin.unwrap_or_default() {
            "builtin:auto-start" => Ok(Self::AutoStart),
            "builtin:run-agent" => Ok(Self::RunAgent),
            "builtin:move-task" => {
                let target = match setting("target") {
                    None => Target::Next,
                    Some(serde_json::Value::String(next)) if next == "next" => Target::Next,
                    Some(target) => serde_json::from_value(target.clone()).map_err(|_| {
                        format!(
                            "move-task: target must be {{\"role\": \"review\"}}, {{\"column_id\": \"…\"}} or \"next\", \
                             not {target}"
                        )
                    })?,
                };
                Ok(Self::MoveTask { target })
            }
            "builtin:play-sound" => Ok(Self::PlaySound {
                sound: setting("sound").and_then(|sound| sound.as_str()).unwrap_or("done").to_string(),
            }),
            "builtin:create-pr" => match setting("draft") {
                None | Some(serde_json::Value::Null) => Ok(Self::CreatePr { draft: None }),
                Some(serde_json::Value::Bool(draft)) => Ok(Self::CreatePr { draft: Some(*draft) }),
                Some(other) => Err(format!("create-pr: draft must be true or false, not {other}")),
            },
            "builtin:refine" => Ok(Self::Refine),
            other => Err(format!("unknown built-in hook '{other}'")),
        }
    }

    /// Whether it takes a while (a process, an agent): while such a non-transparent step
    /// runs, the task's card says so. The others finish in one transaction.
    pub fn takes_time(&self) -> bool {
        matches!(
            self,
            Self::RunAgent | Self::Refine | Self::Script { .. } | Self::Agent { .. } | Self::CreatePr { .. }
        )
    }

    /// Whether running it starts an agent, now or by the move it makes: such steps wait
    /// while one of the task's blockers is not done.
    pub fn starts_agent(&self) -> bool {
        matches!(self, Self::AutoStart | Self::RunAgent | Self::Refine | Self::Agent { .. })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn built_in_settings_become_steps_and_bad_ones_say_what_is_expected() {
        let review = Step::of(Some("builtin:move-task"), &json!({ "target": { "role": "review" } }), None);
        assert_eq!(review, Step::MoveTask { target: Target::Role(ColumnRole::Review) });
        let next = Step::of(Some("builtin:move-task"), &json!({ "target": "next" }), None);
        assert_eq!(next, Step::MoveTask { target: Target::Next });
        let bad = Step::of(Some("builtin:move-task"), &json!({ "target": { "role": "nowhere" } }), None);
        assert!(matches!(bad, Step::Invalid { message } if message.contains("target must be")));
        let sound = Step::of(Some("builtin:play-sound"), &json!({}), None);
        assert_eq!(sound, Step::PlaySound { sound: "done".into() });
        let step = Step::of(Some("builtin:run-agent"), &json!({}), None);
        let stored = serde_json::to_value(&step).unwrap();
        assert_eq!(stored, json!({ "kind": "run-agent" }));
        assert_eq!(serde_json::from_value::<Step>(stored).unwrap(), step);
        assert!(step.starts_agent() && !Step::PlaySound { sound: "x".into() }.starts_agent());
    }
}
