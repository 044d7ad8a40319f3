//! Self-update from signed GitHub releases (R2): `viban update [--check]`,
//! `viban rollback`, the daily check and the status the UI and tray show.
//!
//! A release carries `viban-<target>.tar.gz` (`.zip` on Windows) signed with zipsign:
//! an ed25519 signature over the archive and its file name, so a tampered archive, one
//! signed with another key, or one renamed to pass for another target is refused before
//! anything is unpacked. The unpacked binary must then answer `--version` with the
//! release's version before it replaces this one, and the binary it replaces is kept
//! beside it as `viban.old` for `viban rollback`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub mod state;

pub use state::{Applied, ApplyError, UpdateStatus, Updates};

pub const CURRENT: &str = env!("CARGO_PKG_VERSION");
const REPO_OWNER: &str = "viban-dev";
const REPO_NAME: &str = "viban";
const API_BASE: &str = "https://api.github.com";

/// The release keys whose signatures are accepted. During a key rotation one release
/// lists both (README, "Releases").
const RELEASE_KEYS: &[[u8; 32]] = &[*include_bytes!("../../assets/release-key.pub")];

/// How long a new binary gets to answer `--version`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// This binary cannot replace itself; the text says why and what to do instead.
    #[error("{0}")]
    Disabled(String),
    #[error("could not reach the release server {base}: {detail}")]
    Unreachable { base: String, detail: String },
    #[error("the release server has no viban {version} for {target}")]
    NoAsset { version: String, target: String },
    #[error(
        "the download has no valid signature from viban's release key: it was changed, renamed or \
         signed with another key ({0}); nothing was installed"
    )]
    Signature(String),
    #[error("the downloaded binary does not run as viban {version} ({detail}); nothing was installed")]
    Broken { version: String, detail: String },
    #[error("the update failed: {0}")]
    Failed(String),
}

/// Where releases come from and which keys they must be signed with.
#[derive(Debug, Clone)]
pub struct Source {
    api_base: String,
    keys: Vec<[u8; 32]>,
}

impl Source {
    /// GitHub, or `VIBAN_UPDATE_URL` (a GitHub-compatible releases API, such as a GitHub
    /// Enterprise server or the tests' fake). Signatures are checked whatever the address.
    ///
    /// Debug builds also accept `VIBAN_UPDATE_KEY` (a hex ed25519 public key) in place of
    /// the release keys, so that tests can sign their own releases; release builds ignore it.
    pub fn from_env() -> Self {
        let api_base = std::env::var("VIBAN_UPDATE_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .map(|url| url.trim_end_matches('/').to_string())
            .unwrap_or_else(|| API_BASE.to_string());
        let test_key = if cfg!(debug_assertions) {
            std::env::var("VIBAN_UPDATE_KEY").ok().and_then(|hex| parse_key(&hex))
        } else {
            None
        };
        let keys = test_key.map_or_else(|| RELEASE_KEYS.to_vec(), |key| vec![key]);
        Self { api_base, keys }
    }

    pub fn api_base(&self) -> &str {
        &self.api_base
    }
}

fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0; 32];
    for (index, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(key)
}

/// The binary that would be replaced.
#[derive(Debug, Clone)]
pub struct Installation {
    exe: PathBuf,
}

impl Installation {
    /// The running binary, symlinks resolved (so `~/.local/bin/viban -> …` updates the
    /// file the link points to).
    pub fn current() -> std::io::Result<Self> {
        let exe = std::env::current_exe()?;
        Ok(Self { exe: exe.canonicalize().unwrap_or(exe) })
    }

    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// The binary kept by the last update, for `viban rollback`.
    pub fn previous(&self) -> PathBuf {
        let name = self.exe.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let name = match name.strip_suffix(".exe") {
            Some(stem) => format!("{stem}.old.exe"),
            None => format!("{name}.old"),
        };
        self.exe.with_file_name(name)
    }

    /// Why this binary cannot update itself, if it cannot: a package manager owns it,
    /// or its folder is not writable by this user.
    pub fn disabled_reason(&self) -> Option<String> {
        if let Some(manager) = package_manager(&self.exe) {
            return Some(format!(
                "{} was installed by {manager}; update viban with {manager} instead",
                self.exe.display()
            ));
        }
        let dir = self.exe.parent()?;
        let probe = dir.join(format!(".viban-update-probe-{}", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                None
            }
            Err(error) => Some(format!(
                "viban cannot replace itself: its folder {} is not writable ({error}); install it \
                 somewhere you own, such as ~/.local/bin, to get updates",
                dir.display()
            )),
        }
    }
}

fn package_manager(exe: &Path) -> Option<&'static str> {
    let path = exe.to_string_lossy();
    [
        ("/nix/store/", "Nix"),
        ("/Cellar/", "Homebrew"),
        ("/opt/homebrew/", "Homebrew"),
        ("/home/linuxbrew/", "Homebrew"),
        ("/snap/", "snap"),
        ("/usr/bin/", "your system's package manager"),
        ("/usr/lib/", "your system's package manager"),
        ("/.cargo/bin/", "cargo install"),
        ("\\scoop\\", "Scoop"),
    ]
    .into_iter()
    .find(|(marker, _)| path.contains(marker))
    .map(|(_, manager)| manager)
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Check {
    UpToDate,
    /// A newer release with an archive for this platform.
    Available {
        version: String,
    },
}

/// Asks the release server for the newest release (blocking).
pub fn check(source: &Source) -> Result<Check, UpdateError> {
    let updater = updater(source, None, None)?;
    let releases = updater.get_latest_release().map_err(|error| network_error(source, error))?;
    let Some(latest) = releases.latest() else { return Ok(Check::UpToDate) };
    let newer = self_update::version::bump_is_greater(CURRENT, latest.version()).unwrap_or(false);
    Ok(if newer && latest.has_target_asset(self_update::get_target()) {
        Check::Available { version: latest.version().to_string() }
    } else {
        Check::UpToDate
    })
}

/// Downloads `version`, verifies it and replaces the binary, keeping the replaced one as
/// [`Installation::previous`] (blocking). On any error the installed binary is unchanged.
pub fn install(source: &Source, installation: &Installation, version: &str) -> Result<(), UpdateError> {
    if let Some(reason) = installation.disabled_reason() {
        return Err(UpdateError::Disabled(reason));
    }
    // The copy is made first and only takes the place of the last `viban.old` once the
    // new binary is in, so a failed update leaves both as they were.
    let previous = installation.previous();
    let staged = previous.with_extension("staging");
    std::fs::copy(&installation.exe, &staged).map_err(|error| {
        UpdateError::Failed(format!("could not keep a copy of {}: {error}", installation.exe.display()))
    })?;
    let updated = updater(source, Some(installation), Some(version))
        .and_then(|updater| updater.update_extended().map_err(|error| classify(source, version, error)));
    match updated {
        Ok(_) => std::fs::rename(&staged, &previous).map_err(|error| {
            UpdateError::Failed(format!(
                "viban {version} is installed, but the previous binary could not be kept as {} ({error})",
                previous.display()
            ))
        }),
        Err(error) => {
            let _ = std::fs::remove_file(&staged);
            Err(error)
        }
    }
}

/// `viban rollback`: swaps the binary and the one the last update kept. Returns the
/// version now installed.
pub fn rollback(installation: &Installation) -> Result<String, UpdateError> {
    let previous = installation.previous();
    if !previous.is_file() {
        return Err(UpdateError::Failed(format!(
            "there is no previous binary to go back to ({} does not exist); it is kept only after \
             `viban update`",
            previous.display()
        )));
    }
    let version = probe_version(&previous).map_err(|detail| {
        UpdateError::Failed(format!("the previous binary {} does not run ({detail})", previous.display()))
    })?;
    let swap = installation.exe.with_extension("rollback");
    let swapped = std::fs::rename(&installation.exe, &swap)
        .and_then(|()| std::fs::rename(&previous, &installation.exe))
        .and_then(|()| std::fs::rename(&swap, &previous));
    swapped.map_err(|error| {
        // Put back whatever moved, so that a binary stays where the user runs it.
        if !installation.exe.exists() && swap.exists() {
            let _ = std::fs::rename(&swap, &installation.exe);
        }
        UpdateError::Failed(format!(
            "could not swap {} and {}: {error}",
            installation.exe.display(),
            previous.display()
        ))
    })?;
    Ok(version)
}

/// Runs `binary --version` and returns the version it names.
pub fn probe_version(binary: &Path) -> Result<String, String> {
    let mut child = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| error.to_string())?;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    loop {
        match child.try_wait().map_err(|error| error.to_string())? {
            Some(status) if status.success() => break,
            Some(status) => return Err(format!("`--version` exited with {status}")),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`--version` did not answer within {} s", PROBE_TIMEOUT.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut output);
    }
    output
        .trim()
        .strip_prefix("viban ")
        .map(|version| version.trim().to_string())
        .ok_or_else(|| format!("`--version` printed {:?}, not `viban <version>`", output.trim()))
}

fn updater(
    source: &Source,
    installation: Option<&Installation>,
    version: Option<&str>,
) -> Result<self_update::backends::github::Update, UpdateError> {
    let mut builder = self_update::backends::github::Update::configure();
    builder
        .repo_owner(REPO_OWNER)
        .repo_name(REPO_NAME)
        .api_base_url(&source.api_base)
        .bin_name("viban")
        .target(self_update::get_target())
        .current_version(CURRENT)
        .verifying_keys(source.keys.clone())
        .no_confirm(true)
        .show_output(false)
        .show_download_progress(false);
    if let Some(installation) = installation {
        builder.bin_install_path(&installation.exe);
    }
    if let Some(version) = version {
        let expected = version.to_string();
        builder.release_tag(format!("v{version}")).verify_binary(move |binary| match probe_version(binary) {
            Ok(found) if found == expected => Ok(()),
            Ok(found) => Err(self_update::Error::verification_rejected(format!("it says it is {found}"))),
            Err(detail) => Err(self_update::Error::verification_rejected(detail)),
        });
    }
    builder.build().map_err(|error| UpdateError::Failed(error.to_string()))
}

fn network_error(source: &Source, error: self_update::Error) -> UpdateError {
    match error {
        self_update::Error::Transport(_) | self_update::Error::Io(_) => {
            UpdateError::Unreachable { base: source.api_base.clone(), detail: error.to_string() }
        }
        other => UpdateError::Failed(other.to_string()),
    }
}

fn classify(source: &Source, version: &str, error: self_update::Error) -> UpdateError {
    use self_update::Error;
    match error {
        Error::Signature(_) | Error::NoSignatures(_) | Error::SignatureNonUTF8 => {
            UpdateError::Signature(error.to_string())
        }
        Error::VerificationRejected { .. } => {
            UpdateError::Broken { version: version.to_string(), detail: error.to_string() }
        }
        Error::NotFound { .. } | Error::NoReleaseFound { .. } => UpdateError::NoAsset {
            version: version.to_string(),
            target: self_update::get_target().to_string(),
        },
        other => network_error(source, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_binary_sits_beside_the_current_one() {
        let unix = Installation { exe: PathBuf::from("/home/me/.local/bin/viban") };
        assert_eq!(unix.previous(), PathBuf::from("/home/me/.local/bin/viban.old"));
        let windows = Installation { exe: PathBuf::from("C:/Users/me/viban/viban.exe") };
        assert_eq!(windows.previous(), PathBuf::from("C:/Users/me/viban/viban.old.exe"));
    }

    #[test]
    fn package_managers_are_recognised_by_where_they_install() {
        assert_eq!(package_manager(Path::new("/opt/homebrew/bin/viban")), Some("Homebrew"));
        assert_eq!(package_manager(Path::new("/nix/store/abc-viban/bin/viban")), Some("Nix"));
        assert_eq!(package_manager(Path::new("/usr/bin/viban")), Some("your system's package manager"));
        assert_eq!(package_manager(Path::new("/home/me/.local/bin/viban")), None);
        assert_eq!(package_manager(Path::new("/usr/local/bin/viban")), None);
    }

    #[test]
    fn test_keys_are_64_hex_digits() {
        assert_eq!(parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_key("abc"), None);
        assert_eq!(parse_key(&"zz".repeat(32)), None);
    }

    #[test]
    fn the_release_keys_are_valid_ed25519_public_keys() {
        for key in RELEASE_KEYS {
            assert!(zipsign_api::VerifyingKey::from_bytes(key).is_ok(), "{key:?}");
        }
    }
}
