//! One viban per home (L7): an exclusive lock on `run/viban.lock`, held for the life
//! of the process, and `run/instance.json`, which tells other commands (`viban`,
//! `status`, `stop`, `open`) where the running one is. One id per running viban on its
//! database, apart from the home's path: [`identity`].

pub mod identity;

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::home::{self, Home};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Where the server answers, without the token.
    pub url: String,
    pub pid: u32,
    pub version: String,
    pub home: String,
    /// `embedded` or `external`.
    pub database: String,
    /// The server was stopped from the tray; the process waits for Start.
    #[serde(default)]
    pub paused: bool,
}

/// Held while this process is the home's instance; the OS releases it if we die.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

pub enum Claim {
    Acquired(InstanceLock),
    /// Another process holds the lock.
    Taken,
}

pub fn claim(home: &Home) -> io::Result<Claim> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(home.lock_file())?;
    match file.try_lock() {
        Ok(()) => Ok(Claim::Acquired(InstanceLock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(Claim::Taken),
        Err(TryLockError::Error(error)) => Err(error),
    }
}

/// The running instance of this home, if any. Waits up to `patience` for one that
/// holds the lock but is still starting to write its instance file.
pub fn running(home: &Home, patience: Duration) -> io::Result<Option<InstanceInfo>> {
    if !home.lock_file().exists() {
        return Ok(None);
    }
    let deadline = Instant::now() + patience;
    loop {
        match claim(home)? {
            Claim::Acquired(_lock) => return Ok(None),
            Claim::Taken => {
                if let Some(info) = read(home) {
                    return Ok(Some(info));
                }
            }
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "another viban holds {} but has not said where it listens; it may still be starting",
                home.lock_file().display()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn read(home: &Home) -> Option<InstanceInfo> {
    let text = fs::read_to_string(home.instance_file()).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn write(home: &Home, info: &InstanceInfo) -> Result<(), home::HomeError> {
    let json = serde_json::to_vec_pretty(info).expect("instance info serialises");
    home::write_private_file(&home.instance_file(), &json)
}

pub fn remove(home: &Home) {
    let _ = fs::remove_file(home.instance_file());
}
