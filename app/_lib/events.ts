"use client";

import { useEffect, useEffectEvent } from "react";

/**
 * One EventSource to /api/v1/events per page. The browser reconnects by itself and sends
 * Last-Event-ID, and the server replays what was missed.
 */
export function useEvents(
  handlers: { op?: (d: unknown) => void; status?: (d: unknown) => void; stats?: (d: unknown) => void },
  query = "",
  enabled = true,
) {
  // An Effect Event always sees the latest handlers without reopening the stream when they change.
  const dispatch = useEffectEvent((type: "op" | "status" | "stats", data: unknown) => handlers[type]?.(data));
  useEffect(() => {
    if (!enabled) return;
    const es = new EventSource(`/api/v1/events${query}`);
    const on = (type: "op" | "status" | "stats") => (e: MessageEvent) => {
      try {
        dispatch(type, JSON.parse(e.data));
      } catch {
        // A malformed frame is dropped; the next status event corrects the view.
      }
    };
    es.addEventListener("op", on("op"));
    es.addEventListener("status", on("status"));
    es.addEventListener("stats", on("stats"));
    return () => es.close();
  }, [query, enabled]);
}
