// Light and dark themes: the system's choice unless the user picked one (kept in
// localStorage). The choice is a `data-theme` attribute on <html>; style.css does the rest.

export type ThemeChoice = "system" | "light" | "dark";

class Theme {
  choice = $state<ThemeChoice>((localStorage.getItem("viban.theme") as ThemeChoice | null) ?? "system");

  apply() {
    const root = document.documentElement;
    if (this.choice === "system") root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", this.choice);
  }

  /** system → dark → light → system. */
  cycle() {
    this.choice = this.choice === "system" ? "dark" : this.choice === "dark" ? "light" : "system";
    if (this.choice === "system") localStorage.removeItem("viban.theme");
    else localStorage.setItem("viban.theme", this.choice);
    this.apply();
  }
}

export const theme = new Theme();
