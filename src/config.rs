//! `config.toml` in the home (L3): settings that persist between starts.
//!
//! Precedence, highest first: command-line option, environment variable, this file,
//! built-in default. A first start writes a commented template; an unknown key or a
//! wrong type stops viban with the file, the key and the line, rather than being
//! silently ignored. [`ServeOverrides`] carries what the command line and the
//! environment gave; [`ServeOverrides::resolve`] applies that precedence.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::Deserialize;

use crate::home::{self, Home};

const TEMPLATE: &str = r#"# viban settings. Command-line options and VIBAN_* environment variables override them.

[server]
# Port for the web UI, API and WebSocket; the next free one is used if it is taken.
# port = 7777
# Address to listen on. Anything but loopback needs VIBAN_PASSWORD.
# host = "127.0.0.1"
# Open the browser on start (only ever in a desktop session).
# open_browser = true
# More host names the server may be reached by (DNS-rebinding allow-list).
# allowed_hosts = ["my-machine.local"]
# An external PostgreSQL to use instead of the embedded one.
# database_url = "postgres://user:password@db.example:5432/viban"

[agents]
# Agent runs at once; more wait as queued and start in order.
# max_concurrent = 4
# A run still going after this long is stopped.
# timeout_minutes = 120
"#;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path} is not valid: {message}fix or remove the setting, then start viban again")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Home(#[from] home::HomeError),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub agents: AgentsConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsConfig {
    pub max_concurrent: Option<usize>,
    pub timeout_minutes: Option<u64>,
}

impl AgentsConfig {
    pub fn runner_settings(&self) -> crate::agents::run::RunnerSettings {
        let defaults = crate::agents::run::RunnerSettings::default();
        crate::agents::run::RunnerSettings {
            max_concurrent: self.max_concurrent.unwrap_or(defaults.max_concurrent).max(1),
            // VIBAN_AGENT_TIMEOUT_SECONDS overrides, for finer control than minutes.
            timeout: std::env::var("VIBAN_AGENT_TIMEOUT_SECONDS")
                .ok()
                .and_then(|seconds| seconds.parse::<u64>().ok())
                .map(std::time::Duration::from_secs)
                .or_else(|| {
                    self.timeout_minutes.map(|minutes| std::time::Duration::from_secs(minutes.max(1) * 60))
                })
                .unwrap_or(defaults.timeout),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub port: Option<u16>,
    pub host: Option<IpAddr>,
    pub open_browser: Option<bool>,
    pub allowed_hosts: Option<Vec<String>>,
    pub database_url: Option<String>,
}

/// What `viban serve` was given on its command line or in its environment; `None`
/// (or `false`, empty) where it was not. The command line builds it (`cli::ServeArgs`).
#[derive(Debug, Clone, Default)]
pub struct ServeOverrides {
    pub no_browser: bool,
    pub headless: bool,
    pub port: Option<u16>,
    pub host: Option<IpAddr>,
    pub database_url: Option<String>,
    pub password: Option<String>,
    pub no_update: bool,
    pub allowed_hosts: Vec<String>,
}

/// `serve`'s settings once the command line, the environment and `config.toml` are
/// combined.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub open_browser: bool,
    pub headless: bool,
    pub port: u16,
    pub host: IpAddr,
    pub database_url: Option<String>,
    pub password: Option<String>,
    pub allowed_hosts: Vec<String>,
    pub check_updates: bool,
}

impl ServeOverrides {
    /// Options given (on the command line or in the environment) win over the file.
    pub fn resolve(self, config: ServerConfig) -> ServeSettings {
        let mut allowed_hosts = config.allowed_hosts.unwrap_or_default();
        allowed_hosts.extend(self.allowed_hosts);
        ServeSettings {
            open_browser: !self.no_browser && !self.headless && config.open_browser.unwrap_or(true),
            headless: self.headless,
            port: self.port.or(config.port).unwrap_or(7777),
            host: self.host.or(config.host).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            database_url: self.database_url.or(config.database_url).filter(|url| !url.is_empty()),
            password: self.password.filter(|password| !password.is_empty()),
            allowed_hosts,
            check_updates: !self.no_update,
        }
    }
}

impl Config {
    /// Reads the home's `config.toml`, writing the commented template first if there
    /// is none.
    pub fn load(home: &Home) -> Result<Self, ConfigError> {
        let path = home.config_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                home::write_private_file(&path, TEMPLATE.as_bytes())?;
                return Ok(Self::default());
            }
            Err(source) => return Err(home::HomeError::Read { path, source }.into()),
        };
        toml::from_str(&text).map_err(|error| ConfigError::Invalid { path, message: error.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_to_the_defaults() {
        let config: Config = toml::from_str(TEMPLATE).unwrap();
        assert!(config.server.port.is_none() && config.server.host.is_none());
    }

    #[test]
    fn unknown_keys_are_errors_not_silence() {
        let error = toml::from_str::<Config>("[server]\nprot = 80\n").unwrap_err().to_string();
        assert!(error.contains("prot"), "{error}");
    }
}
