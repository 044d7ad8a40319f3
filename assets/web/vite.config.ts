import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The server embeds dist/: everything under dist/assets/ carries a content hash in its
// name and is served `immutable`; index.html is served `no-cache`.
export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `npm run dev` talks to a running viban; the token cookie is set by visiting
    // the URL that `viban open` prints, on the viban port.
    proxy: { "/api": { target: "http://127.0.0.1:7777", ws: true } },
  },
});
