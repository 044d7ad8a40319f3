//! The viban home directory (`~/.viban`, L3) and everything kept in it.
//!
//! This module is the one place that knows the layout and the one place that creates
//! folders (mode 0700) and secret files (mode 0600) under it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("could not find your home directory; set VIBAN_HOME or pass --home DIR")]
    NoUserHome,
    #[error("could not create {path}: {source}; check that its parent is writable or choose another --home")]
    Create { path: PathBuf, source: io::Error },
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

/// Paths under one viban home. Cheap to clone; creating it touches no disk.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `explicit` (from `--home` / `VIBAN_HOME`) or `~/.viban`.
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self, HomeError> {
        let root = match explicit {
            Some(path) => absolute(path),
            None => directories::BaseDirs::new().ok_or(HomeError::NoUserHome)?.home_dir().join(".viban"),
        };
        Ok(Self { root })
    }

    /// Creates the home and its folders, each private to the user.
    pub fn prepare(&self) -> Result<(), HomeError> {
        for dir in [
            self.root.clone(),
            self.pg_dir(),
            self.logs_dir(),
            self.backups_dir(),
            self.worktrees_dir(),
            self.repos_dir(),
            self.run_dir(),
        ] {
            create_private_dir(&dir)?;
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The PostgreSQL cluster.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    /// Extracted PostgreSQL binaries, one folder per version.
    pub fn pg_dir(&self) -> PathBuf {
        self.root.join("pg")
    }
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }
    pub fn worktrees_dir(&self) -> PathBuf {
        self.root.join("worktrees")
    }
    pub fn repos_dir(&self) -> PathBuf {
        self.root.join("repos")
    }
    /// Lock, instance file and PostgreSQL's Unix socket: short-lived runtime state.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.run_dir().join("viban.lock")
    }
    pub fn instance_file(&self) -> PathBuf {
        self.run_dir().join("instance.json")
    }
    /// This home's instance id on the database ([`crate::instance::identity`]).
    pub fn instance_id_file(&self) -> PathBuf {
        self.root.join("instance-id")
    }
    /// The claim of this home's latest start on its instance id.
    pub fn instance_claim_file(&self) -> PathBuf {
        self.run_dir().join("instance-claim")
    }
    /// The API token (S2).
    pub fn token_file(&self) -> PathBuf {
        self.root.join("token")
    }
    /// The embedded PostgreSQL superuser's password; never passed on a command line.
    pub fn postgres_password_file(&self) -> PathBuf {
        self.root.join("postgres.password")
    }

    /// Reads a secret file, creating it (0600) with `generate()` if it does not exist.
    pub fn read_or_create_secret(
        &self,
        path: &Path,
        generate: impl FnOnce() -> String,
    ) -> Result<String, HomeError> {
        match fs::read_to_string(path) {
            Ok(secret) if !secret.trim().is_empty() => return Ok(secret.trim().to_string()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(HomeError::Read { path: path.to_path_buf(), source }),
        }
        let secret = generate();
        write_private_file(path, secret.as_bytes())?;
        Ok(secret)
    }
}

/// A random 256-bit secret as 64 hex characters.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not something viban can work around.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub fn create_private_dir(path: &Path) -> Result<(), HomeError> {
    let create = |path: &Path| -> io::Result<()> {
        fs::create_dir_all(path)?;
        set_mode(path, 0o700)
    };
    create(path).map_err(|source| HomeError::Create { path: path.to_path_buf(), source })
}

/// Writes `bytes` to `path` atomically (temp file + rename), readable by the user only.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
    let write = || -> io::Result<()> {
        let temp = path.with_extension("tmp");
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        set_mode(&temp, 0o600)?;
        fs::rename(&temp, path)
    };
    write().map_err(|source| HomeError::Create { path: path.to_path_buf(), source })
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("viban-home-test-{}", std::process::id()));
        let home = Home::resolve(Some(dir.clone())).unwrap();
        home.prepare().unwrap();
        let first = home.read_or_create_secret(&home.token_file(), random_secret).unwrap();
        let second = home.read_or_create_secret(&home.token_file(), || unreachable!()).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(home.token_file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = fs::metadata(home.run_dir()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
