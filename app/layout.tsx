import type { Metadata } from "next";
import { headers } from "next/headers";
import { NONCE_HEADER } from "@/edge/http/csp";
import "./globals.css";

export const metadata: Metadata = {
  title: "Moodle DinD",
  description: "Many isolated Moodle sites on one machine",
};

// Runs before paint so the page never flashes the wrong theme.
const themeScript = `(function(){try{var t=localStorage.getItem("mdind-theme");if(t!=="light"&&t!=="dark"){t=matchMedia("(prefers-color-scheme: dark)").matches?"dark":"light"}document.documentElement.dataset.theme=t}catch(e){}})();`;

// Reading the request's nonce (proxy.ts) renders every page per request, which a nonce needs anyway.
export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const nonce = (await headers()).get(NONCE_HEADER) ?? undefined;
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script nonce={nonce} dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body className="min-h-screen">{children}</body>
    </html>
  );
}
