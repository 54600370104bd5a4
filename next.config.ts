import type { NextConfig } from "next";

const config: NextConfig = {
  // dockerode (and its ssh2/cpu-features natives), node-pty and the mail stack must stay
  // real Node modules: bundling them breaks their native bindings and dynamic requires.
  serverExternalPackages: ["dockerode", "node-pty", "ssh2", "smtp-server", "mailparser", "proper-lockfile", "tar-fs"],
  // tsc runs separately (npm run typecheck): TypeScript 7 has no JS API for Next's checker.
  typescript: { ignoreBuildErrors: true },
  poweredByHeader: false,
  // Parallel e2e runs in one working tree (helpers, bisects) each build into their own folder.
  distDir: process.env.MDIND_NEXT_DIST || ".next",
};

export default config;
