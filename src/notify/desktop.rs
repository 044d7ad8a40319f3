//! Desktop notifications (N2): viban's own, shown when no browser tab is connected, via
//! `notify-rust` (the freedesktop Notifications service over D-Bus on Linux, the native
//! APIs on macOS and Windows). Without a desktop — no session bus — nothing is shown and
//! nothing is reported as an error.

/// Whether there is a desktop to notify on: on Linux, a D-Bus session bus.
pub(crate) fn available() -> bool {
    if cfg!(target_os = "linux") {
        let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
        set("DBUS_SESSION_BUS_ADDRESS")
            || std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
    } else {
        cfg!(any(target_os = "macos", windows))
    }
}

/// Shows one notification; blocking (call it on `spawn_blocking`). The error says why
/// the desktop refused, for a debug line.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub(crate) fn show(summary: &str, body: &str) -> Result<(), String> {
    notify_rust::Notification::new()
        .appname("viban")
        .summary(summary)
        .body(body)
        .show()
        .map(|_| ())
        .map_err(|error| error.to_string())
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
pub(crate) fn show(_summary: &str, _body: &str) -> Result<(), String> {
    Err("no desktop notifications on this system".into())
}
