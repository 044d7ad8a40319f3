//! A board's settings as the rest of viban reads them. They are stored as the JSON
//! object the user gave (`PATCH /api/boards/{id}` with `settings`, unknown keys kept);
//! [`BoardSettings::read`] takes what it knows from it, each key on its own, so one
//! malformed key never hides the others.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::CustomAgent;

#[derive(Debug, Clone, PartialEq)]
pub struct BoardSettings {
    /// The agent a task runs when it names none (an adapter id or `custom:<name>`).
    pub default_agent: Option<String>,
    /// Globs of files copied from the repository into each new worktree (`.env*`).
    pub copy_files: Vec<String>,
    /// Commands run as agent `custom:<name>`.
    pub custom_agents: BTreeMap<String, CustomAgent>,
    /// A merged task moves to the board's `done` column (V3); default true.
    pub move_to_done_after_merge: bool,
    /// A pull request opened by "Create PR" (or `builtin:create-pr` without a `draft`
    /// setting) is a draft (V5); default false.
    pub pr_draft: bool,
    /// A task whose pull request the sync finds merged moves to the board's `done`
    /// column (V5); default true.
    pub move_to_done_after_pr_merge: bool,
    /// What the board's agents may do without asking (M3, docs/approvals.md); unset:
    /// viban's default, `accept_edits` as root and `bypass` otherwise.
    pub permission_policy: Option<PermissionPolicy>,
    /// How long a pending approval waits before it is denied (`approval_timeout_minutes`,
    /// fractions allowed; default 30).
    pub approval_timeout: Duration,
    /// "Notify me" (N1, N2): browser and desktop notifications when a task needs the
    /// user; default true.
    pub notify: bool,
    /// How long a task stays done or cancelled before housekeeping removes its worktree
    /// (`worktree_ttl_days`, fractions allowed, 0: at the next clean-up; default 7).
    pub worktree_ttl: Duration,
}

/// What an agent may do without asking (`permission_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionPolicy {
    /// Every tool call the CLI would ask about becomes a pending approval on the task.
    Ask,
    /// File edits without asking; what else would need asking is denied.
    AcceptEdits,
    /// Everything without asking (as root, what root is allowed: see `agents::Adapter`).
    Bypass,
}

/// The default of `approval_timeout_minutes`.
pub const APPROVAL_TIMEOUT_MINUTES: f64 = 30.0;
/// The default of `worktree_ttl_days`.
pub const WORKTREE_TTL_DAYS: f64 = 7.0;

impl Default for BoardSettings {
    fn default() -> Self {
        Self {
            default_agent: None,
            copy_files: Vec::new(),
            custom_agents: BTreeMap::new(),
            move_to_done_after_merge: true,
            pr_draft: false,
            move_to_done_after_pr_merge: true,
            permission_policy: None,
            approval_timeout: minutes(APPROVAL_TIMEOUT_MINUTES),
            notify: true,
            worktree_ttl: days(WORKTREE_TTL_DAYS),
        }
    }
}

impl BoardSettings {
    pub fn read(settings: &Value) -> Self {
        fn key<T: DeserializeOwned + Default>(settings: &Value, name: &str) -> T {
            settings
                .get(name)
                .and_then(|value| serde_json::from_value(value.clone()).ok())
                .unwrap_or_default()
        }
        let custom_agents = settings
            .get("custom_agents")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, definition)| {
                let agent: CustomAgent = serde_json::from_value(definition.clone()).ok()?;
                (!agent.command.is_empty()).then(|| (name.clone(), agent))
            })
            .collect();
        Self {
            default_agent: key(settings, "default_agent"),
            copy_files: key(settings, "copy_files"),
            custom_agents,
            move_to_done_after_merge: settings
                .get("move_to_done_after_merge")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            pr_draft: settings.get("pr_draft").and_then(Value::as_bool).unwrap_or(false),
            move_to_done_after_pr_merge: settings
                .get("move_to_done_after_pr_merge")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            permission_policy: key(settings, "permission_policy"),
            approval_timeout: settings
                .get("approval_timeout_minutes")
                .and_then(Value::as_f64)
                .filter(|minutes| minutes.is_finite() && *minutes > 0.0)
                .map_or(minutes(APPROVAL_TIMEOUT_MINUTES), minutes),
            notify: settings.get("notify").and_then(Value::as_bool).unwrap_or(true),
            worktree_ttl: settings
                .get("worktree_ttl_days")
                .and_then(Value::as_f64)
                .filter(|days| days.is_finite() && *days >= 0.0)
                .map_or(days(WORKTREE_TTL_DAYS), days),
        }
    }
}

/// `minutes` as a duration, at most a year.
fn minutes(minutes: f64) -> Duration {
    Duration::from_secs_f64((minutes * 60.0).min(365.0 * 24.0 * 3600.0))
}

/// `days` as a duration, at most ten years.
fn days(days: f64) -> Duration {
    Duration::from_secs_f64((days * 86_400.0).min(3650.0 * 86_400.0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn known_keys_are_read_and_a_malformed_one_hides_no_other() {
        let settings = BoardSettings::read(&json!({
            "default_agent": "codex",
            "copy_files": 7,
            "custom_agents": { "aider": { "command": ["aider", "{prompt}"] }, "broken": { "command": [] } },
            "something_else": true,
        }));
        assert_eq!(settings.default_agent.as_deref(), Some("codex"));
        assert!(settings.copy_files.is_empty());
        assert_eq!(settings.custom_agents.keys().collect::<Vec<_>>(), ["aider"]);
        assert_eq!(BoardSettings::read(&json!([])), BoardSettings::default());
    }

    #[test]
    fn the_permission_policy_and_a_fractional_approval_timeout_are_read() {
        let settings =
            BoardSettings::read(&json!({ "permission_policy": "ask", "approval_timeout_minutes": 0.05 }));
        assert_eq!(settings.permission_policy, Some(PermissionPolicy::Ask));
        assert_eq!(settings.approval_timeout, Duration::from_secs(3));
        let unknown =
            BoardSettings::read(&json!({ "permission_policy": "yes", "approval_timeout_minutes": -1 }));
        assert_eq!(unknown.permission_policy, None);
        assert_eq!(unknown.approval_timeout, Duration::from_secs(30 * 60));
    }

    #[test]
    fn the_worktree_ttl_defaults_to_a_week_and_may_be_zero() {
        assert_eq!(BoardSettings::read(&json!({})).worktree_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(BoardSettings::read(&json!({ "worktree_ttl_days": 0 })).worktree_ttl, Duration::ZERO);
        assert_eq!(
            BoardSettings::read(&json!({ "worktree_ttl_days": 0.5 })).worktree_ttl,
            Duration::from_secs(43_200)
        );
        assert_eq!(
            BoardSettings::read(&json!({ "worktree_ttl_days": -2 })).worktree_ttl,
            Duration::from_secs(7 * 86_400)
        );
    }
}
