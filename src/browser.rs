//! Opening the browser (L1): only in a desktop session, never over SSH, in CI, in a
//! service, or when asked not to. Always detached: viban does not wait for it.

/// Whether this process runs in a desktop session a browser could open in.
pub fn desktop_session() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    if set("SSH_CONNECTION") || set("SSH_TTY") || set("CI") {
        return false;
    }
    if cfg!(any(target_os = "macos", windows)) {
        return true;
    }
    set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// Opens `url` in the default browser; false if that failed (the caller prints it).
pub fn open(url: &str) -> bool {
    match open::that_detached(url) {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!("could not open the browser: {error}");
            false
        }
    }
}
