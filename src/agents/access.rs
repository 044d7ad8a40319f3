//! What an agent run may do on the board (M2): each run gets its own bearer token for
//! viban's MCP server (`/api/mcp`, [`crate::mcp`]) that names its task, works only
//! while the run lasts, and opens only the run's tools (`docs/mcp.md`).
//!
//! Tokens live in memory, as a SHA-256 of the token with the task it names: a run
//! does not survive a restart (it is interrupted, A7), so neither needs its token; and
//! a token reaches only the instance that issued it, because the URL it is given with
//! is that instance's. Nothing is written to the database, so a leaked dump holds no
//! token, and a restart revokes them all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The task a run token acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunGrant {
    pub task_id: Uuid,
    pub session_id: Uuid,
}

/// The run tokens this instance has issued and not yet revoked, and where its MCP
/// server listens (set once the server is bound).
#[derive(Clone, Default)]
pub struct RunTokens(Arc<Inner>);

impl std::fmt::Debug for RunTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("RunTokens").field("runs", &self.grants().len()).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    grants: Mutex<HashMap<[u8; 32], RunGrant>>,
    endpoint: Mutex<Option<String>>,
}

/// A run's token while the run lasts: revoked when dropped.
pub struct RunAccess {
    tokens: RunTokens,
    key: [u8; 32],
    /// The bearer token.
    pub token: String,
    /// `http://127.0.0.1:<port>/api/mcp`.
    pub url: String,
}

impl Drop for RunAccess {
    fn drop(&mut self) {
        self.tokens.grants().remove(&self.key);
    }
}

impl RunTokens {
    fn grants(&self) -> MutexGuard<'_, HashMap<[u8; 32], RunGrant>> {
        self.0.grants.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where agents reach the MCP server, e.g. `http://127.0.0.1:7777/api/mcp`.
    pub fn set_endpoint(&self, url: String) {
        *self.0.endpoint.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(url);
    }

    /// A token for `grant`'s run, or `None` while no server listens.
    pub fn issue(&self, grant: RunGrant) -> Option<RunAccess> {
        let url = self.0.endpoint.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()?;
        let token = crate::home::random_secret();
        let key = digest(&token);
        self.grants().insert(key, grant);
        Some(RunAccess { tokens: self.clone(), key, token, url })
    }

    /// The run `token` was issued to, while it lasts.
    pub fn check(&self, token: &str) -> Option<RunGrant> {
        self.grants().get(&digest(token)).copied()
    }
}

/// Claude Code's `--mcp-config` file for a run: viban's server, over HTTP, with the
/// run's token.
pub(crate) fn claude_config(access: &RunAccess) -> String {
    serde_json::json!({
        "mcpServers": {
            "viban": {
                "type": "http",
                "url": access.url,
                "headers": { "Authorization": format!("Bearer {}", access.token) },
            }
        }
    })
    .to_string()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_until_its_run_ends() {
        let tokens = RunTokens::default();
        let grant = RunGrant { task_id: Uuid::new_v4(), session_id: Uuid::new_v4() };
        assert!(tokens.issue(grant).is_none(), "no endpoint yet");
        tokens.set_endpoint("http://127.0.0.1:1/api/mcp".into());
        let access = tokens.issue(grant).expect("issued");
        assert_eq!(tokens.check(&access.token), Some(grant));
        assert_eq!(tokens.check("guess"), None);
        let token = access.token.clone();
        drop(access);
        assert_eq!(tokens.check(&token), None);
    }
}
