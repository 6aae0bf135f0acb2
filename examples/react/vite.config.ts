import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` talks to a server on 127.0.0.1:3000; the built app is served by the server itself
// (TUTOR_STATIC_DIR) and connects to its own origin.
const servidor = "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/socket.io": { target: servidor, ws: true },
      "/dev": { target: servidor },
    },
  },
});
