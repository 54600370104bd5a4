"use client";

/**
 * The browser's API client: same-origin fetch with the session cookie, plus the CSRF header on
 * every mutation (the token comes from the readable `mdind_csrf` cookie set at login).
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly kind?: string,
    readonly field?: string,
    readonly step?: string,
  ) {
    super(message);
  }
}

export function csrfToken(): string {
  const m = /(?:^|;\s*)mdind_csrf=([^;]+)/.exec(typeof document === "undefined" ? "" : document.cookie);
  return m ? decodeURIComponent(m[1]) : "";
}

export async function api<T = unknown>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-mdind-csrf"] = csrfToken();
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: "same-origin",
    signal: init.signal,
  });
  if (res.status === 401 && typeof window !== "undefined" && !path.startsWith("/api/v1/auth/login")) {
    // A full page load on purpose: the session is gone, so no client state or router cache of the
    // signed-in pages should survive into the login page (and this module has no router anyway).
    window.location.assign(new URL(`/login?next=${encodeURIComponent(window.location.pathname)}`, window.location.href));
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: { message: text } };
  }
  if (!res.ok) {
    const e = (data as { error?: { message?: string; kind?: string; field?: string; step?: string } })?.error ?? {};
    throw new ApiError(e.message ?? `HTTP ${res.status}`, res.status, e.kind, e.field, e.step);
  }
  return data as T;
}

export function formatBytes(n: number | undefined | null): string {
  if (!n || n <= 0) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
