// Mounts the app. Everything the user sees starts in App.svelte.
import "./style.css";
import { mount } from "svelte";
import App from "./App.svelte";
import { theme } from "./lib/theme.svelte";

theme.apply();
mount(App, { target: document.getElementById("app")! });
