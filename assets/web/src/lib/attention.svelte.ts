// N1: telling the user a task needs them while they look elsewhere. The board page
// counts such tasks in the title; when one newly needs them and the tab is hidden,
// and the user turned this on ("Notify me", whose click asks the browser's permission),
// a sound and a browser notification.
import { playSound } from "./sound";

const KEY = "viban.notify";

class Attention {
  /** The user asked to be told (the sound; the notification too when the browser allows it). */
  enabled = $state(false);
  /** Why notifications cannot be on, when the browser refuses. */
  blocked = $state<string | null>(null);

  constructor() {
    const supported = typeof Notification !== "undefined";
    this.enabled = localStorage.getItem(KEY) === "on";
    if (!supported) this.blocked = "This browser has no notifications.";
    else if (Notification.permission === "denied")
      this.blocked = "Notifications are blocked for viban in this browser's site settings: only the sound plays.";
  }

  /** From a click: turns notifications on (asking permission once) or off. */
  async toggle() {
    if (this.enabled) {
      this.enabled = false;
      localStorage.setItem(KEY, "off");
      return;
    }
    this.enabled = true;
    localStorage.setItem(KEY, "on");
    if (typeof Notification === "undefined") return;
    const permission = Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
    this.blocked = permission === "denied" ? "Notifications are blocked for viban in this browser's site settings: only the sound plays." : null;
  }

  /** A task newly needs the user: tell them if they are not looking. */
  alert(title: string, body: string, onclick: () => void) {
    if (!document.hidden || !this.enabled) return;
    playSound("attention");
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    try {
      const notification = new Notification(title, { body, tag: title });
      notification.onclick = () => {
        window.focus();
        onclick();
        notification.close();
      };
    } catch {
      // Some browsers only notify from a service worker: the sound and the title remain.
    }
  }
}

export const attention = new Attention();
