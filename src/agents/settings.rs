//! A board's settings as the rest of viban reads them. They are stored as the JSON
//! object the user gave (`PATCH /api/boards/{id}` with `settings`, unknown keys kept);
//! [`BoardSettings::read`] takes what it knows from it, each key on its own, so one
//! malformed key never hides the others.

use std::collections::BTreeMap;

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
    /// "Notify me" (N1, N2): browser and desktop notifications when a task needs the
    /// user; default true.
    pub notify: bool,
}

impl Default for BoardSettings {
    fn default() -> Self {
        Self {
            default_agent: None,
            copy_files: Vec::new(),
            custom_agents: BTreeMap::new(),
            move_to_done_after_merge: true,
            notify: true,
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
            notify: settings.get("notify").and_then(Value::as_bool).unwrap_or(true),
        }
    }
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
}
