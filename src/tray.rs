//! The system-tray icon (R1), on the main thread while the server runs on the tokio
//! threads. It only draws [`Status::menu`] and sends the chosen item's [`Control`]
//! into the control channel; the supervisor in `app` does the work.
//!
//! Linux: a StatusNotifierItem over D-Bus (`tray-icon`'s `ksni` backend, no GTK). With
//! no display, no session bus or no tray host on it, viban says so in one log line
//! and runs headless. Windows: the notification area, with a Win32 message pump in the
//! menu loop. macOS: the menu bar, as an accessory app (no Dock icon) whose AppKit
//! events the same loop pumps on the main thread. Other systems run headless, with the
//! same kind of line.

use tokio::sync::{mpsc, watch};
use tracing::info;

use crate::control::{Control, Status};

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub use native::Tray;

/// Shows the tray icon, or says in one log line why there is none.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub fn start(
    runtime: &tokio::runtime::Runtime,
    controls: mpsc::UnboundedSender<Control>,
    status: watch::Receiver<Status>,
) -> Option<Tray> {
    match native::Tray::start(runtime, controls, status) {
        Ok(tray) => {
            info!("tray icon shown");
            Some(tray)
        }
        Err(reason) => {
            info!("no tray icon: {reason}; running headless");
            None
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
pub struct Tray;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
impl Tray {
    pub fn run_until(self, _done: impl Fn() -> bool) {}
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
pub fn start(
    _runtime: &tokio::runtime::Runtime,
    _controls: mpsc::UnboundedSender<Control>,
    _status: watch::Receiver<Status>,
) -> Option<Tray> {
    info!("no tray icon: this build has no tray for this platform yet; running headless");
    None
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
mod native {
    use tray_icon::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
    use tray_icon::{Icon, MouseButton, TrayIcon, TrayIconBuilder, TrayIconEvent};

    use super::*;
    use crate::control::Item;

    /// How often the loop looks at the status and whether the server has finished (and
    /// on Windows and macOS pumps the icon's events, so it is short there).
    #[cfg(target_os = "linux")]
    const TICK: std::time::Duration = std::time::Duration::from_millis(200);
    #[cfg(not(target_os = "linux"))]
    const TICK: std::time::Duration = std::time::Duration::from_millis(25);
    const ICON_PNG: &[u8] = include_bytes!("../assets/icons/tray-64.png");
    #[cfg(target_os = "linux")]
    const WATCHER: &str = "org.kde.StatusNotifierWatcher";

    pub struct Tray {
        icon: TrayIcon,
        /// The menu's entries, in [`Status::menu`]'s order.
        entries: Vec<(Item, MenuItem)>,
        controls: mpsc::UnboundedSender<Control>,
        status: watch::Receiver<Status>,
        shown: Status,
    }

    impl Tray {
        pub fn start(
            runtime: &tokio::runtime::Runtime,
            controls: mpsc::UnboundedSender<Control>,
            status: watch::Receiver<Status>,
        ) -> Result<Self, String> {
            #[cfg(target_os = "linux")]
            {
                let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
                if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
                    return Err("no display (DISPLAY and WAYLAND_DISPLAY are unset)".into());
                }
                runtime.block_on(tray_host())?;
            }
            #[cfg(not(target_os = "linux"))]
            let _ = runtime;
            #[cfg(target_os = "macos")]
            app_kit::launch()?;
            let shown = status.borrow().clone();
            let menu = Menu::new();
            let mut entries = Vec::new();
            for (index, line) in shown.menu().into_iter().enumerate() {
                let entry = MenuItem::new(&line.label, line.enabled, None);
                // Quit sits apart from the rest, as desktops draw it.
                if index == 4 {
                    menu.append(&PredefinedMenuItem::separator()).map_err(|error| error.to_string())?;
                }
                menu.append(&entry).map_err(|error| error.to_string())?;
                entries.push((line.item, entry));
            }
            let builder = TrayIconBuilder::new().with_id("viban");
            // The item's name on Linux; on macOS a title is text beside the icon.
            #[cfg(target_os = "linux")]
            let builder = builder.with_title("viban");
            let icon = builder
                .with_tooltip(shown.tooltip())
                .with_icon(icon()?)
                .with_menu(Box::new(menu))
                .build()
                .map_err(|error| format!("the tray icon could not be created ({error})"))?;
            Ok(Self { icon, entries, controls, status, shown })
        }

        /// Serves the menu until `done` (the server has finished for good).
        pub fn run_until(mut self, done: impl Fn() -> bool) {
            let events = MenuEvent::receiver();
            while !done() {
                #[cfg(windows)]
                pump_messages();
                #[cfg(target_os = "macos")]
                app_kit::pump_events();
                if let Ok(event) = events.recv_timeout(TICK)
                    && let Some((item, _)) = self.entries.iter().find(|(_, entry)| entry.id() == &event.id)
                    && let Some(control) = item.control(&self.shown)
                {
                    let _ = self.controls.send(control);
                }
                // The icon's own events are drained everywhere (the channel is unbounded).
                // A StatusNotifierItem's left click is "activate", not the menu: it opens
                // the board, as the menu's first item does. Windows and macOS show the
                // menu on a click themselves.
                while let Ok(event) = TrayIconEvent::receiver().try_recv() {
                    if cfg!(target_os = "linux")
                        && let TrayIconEvent::Click { button: MouseButton::Left, .. } = event
                    {
                        let _ = self.controls.send(Control::Open);
                    }
                }
                let current = self.status.borrow().clone();
                if current != self.shown {
                    self.show(current);
                }
            }
        }

        fn show(&mut self, status: Status) {
            for ((_, entry), line) in self.entries.iter().zip(status.menu()) {
                if entry.text() != line.label {
                    entry.set_text(&line.label);
                }
                if entry.is_enabled() != line.enabled {
                    entry.set_enabled(line.enabled);
                }
            }
            let _ = self.icon.set_tooltip(Some(status.tooltip()));
            self.shown = status;
        }
    }

    /// Hands the icon's window its messages (clicks, the menu): the icon was created on
    /// this thread, and Windows delivers them only to the thread's message queue.
    #[cfg(windows)]
    fn pump_messages() {
        use windows_sys::Win32::UI::WindowsAndMessaging::{
            DispatchMessageW, MSG, PM_REMOVE, PeekMessageW, TranslateMessage,
        };
        // SAFETY: MSG is plain data that PeekMessageW fills in before it is read.
        let mut message: MSG = unsafe { std::mem::zeroed() };
        // SAFETY: the standard message loop on this thread's own queue, with a valid MSG.
        unsafe {
            while PeekMessageW(&mut message, std::ptr::null_mut(), 0, 0, PM_REMOVE) != 0 {
                TranslateMessage(&message);
                DispatchMessageW(&message);
            }
        }
    }

    /// AppKit by hand: the application object, and the event loop this thread pumps
    /// between looks at the menu (no `[NSApp run]`, which would never return).
    #[cfg(target_os = "macos")]
    mod app_kit {
        use objc2::MainThreadMarker;
        use objc2_app_kit::{NSApplication, NSApplicationActivationPolicy, NSEventMask};
        use objc2_foundation::{NSDate, NSDefaultRunLoopMode};

        /// Makes this process a menu-bar app (no Dock icon, no menu bar of its own) with
        /// a running event loop, which tray-icon needs before an icon is created.
        pub fn launch() -> Result<(), String> {
            if objc2_core_graphics::CGSessionCopyCurrentDictionary().is_none() {
                return Err("no macOS desktop session (logged in over SSH, or no one logged in)".into());
            }
            let main_thread = MainThreadMarker::new().ok_or("the tray must be created on the main thread")?;
            let app = NSApplication::sharedApplication(main_thread);
            if !app.setActivationPolicy(NSApplicationActivationPolicy::Accessory) {
                return Err("macOS refused to make viban a menu-bar app".into());
            }
            app.finishLaunching();
            pump_events();
            Ok(())
        }

        /// Hands AppKit every queued event (a click on the icon opens the menu, whose
        /// choice reaches tray-icon's channel), without waiting for more.
        pub fn pump_events() {
            let Some(main_thread) = MainThreadMarker::new() else { return };
            let app = NSApplication::sharedApplication(main_thread);
            let now = NSDate::distantPast();
            // SAFETY: an immutable string constant AppKit defines and never frees.
            let mode = unsafe { NSDefaultRunLoopMode };
            while let Some(event) =
                app.nextEventMatchingMask_untilDate_inMode_dequeue(NSEventMask::Any, Some(&now), mode, true)
            {
                app.sendEvent(&event);
            }
        }
    }

    /// Whether the session bus has a tray host (a StatusNotifierWatcher) on it.
    #[cfg(target_os = "linux")]
    async fn tray_host() -> Result<(), String> {
        let connection =
            zbus::Connection::session().await.map_err(|error| format!("no D-Bus session bus ({error})"))?;
        let bus = zbus::fdo::DBusProxy::new(&connection).await.map_err(|error| error.to_string())?;
        let name = zbus::names::BusName::try_from(WATCHER).map_err(|error| error.to_string())?;
        match bus.name_has_owner(name).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("no system tray on this desktop ({WATCHER} is not on the session bus)")),
            Err(error) => Err(format!("could not ask the session bus for a tray ({error})")),
        }
    }

    fn icon() -> Result<Icon, String> {
        let decoder = png::Decoder::new(std::io::Cursor::new(ICON_PNG));
        let mut reader = decoder.read_info().map_err(|error| error.to_string())?;
        let mut rgba = vec![0; reader.output_buffer_size().unwrap_or_default()];
        let frame = reader.next_frame(&mut rgba).map_err(|error| error.to_string())?;
        rgba.truncate(frame.buffer_size());
        Icon::from_rgba(rgba, frame.width, frame.height).map_err(|error| error.to_string())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_icon_decodes_as_64_by_64_rgba() {
            let icon = super::icon();
            assert!(icon.is_ok(), "{:?}", icon.err());
        }
    }
}
