import { defineConfig } from "vite";

// `npm run dev` talks to a server on 127.0.0.1:3000; the built app is served by the server
// itself (TUTOR_STATIC_DIR) and connects to its own origin. JSX goes through esbuild's
// automatic runtime: no React plugin needed (it does not install on every npm this project
// meets).
const servidor = "http://127.0.0.1:3000";

export default defineConfig({
  esbuild: { jsx: "automatic" },
  server: {
    proxy: {
      "/socket.io": { target: servidor, ws: true },
      "/dev/token": { target: servidor },
    },
  },
});
