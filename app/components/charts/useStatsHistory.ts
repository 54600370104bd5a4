"use client";

import { useEffect, useState } from "react";
import type { StatsSample } from "@/services/stats-ring";

const WINDOW_MS = 15 * 60_000;

/**
 * The charts' feed: the server's last 15 minutes of samples on connect (`history`), then one
 * `sample` per round. Its own EventSource on ?only=stats, so a page's charts neither replay
 * operation events nor depend on which other stream the page holds.
 */
export function useStatsHistory(): StatsSample[] {
  const [samples, setSamples] = useState<StatsSample[]>([]);
  useEffect(() => {
    const es = new EventSource("/api/v1/events?only=stats");
    es.addEventListener("history", (e: MessageEvent) => {
      try {
        setSamples(JSON.parse(e.data) as StatsSample[]);
      } catch {
        // A malformed frame is dropped; the next sample still draws.
      }
    });
    es.addEventListener("sample", (e: MessageEvent) => {
      try {
        const s = JSON.parse(e.data) as StatsSample;
        setSamples((cur) => {
          if (cur.length && cur[cur.length - 1].at >= s.at) return cur;
          const from = s.at - WINDOW_MS;
          return [...cur.filter((x) => x.at >= from), s];
        });
      } catch {
        // As above.
      }
    });
    return () => es.close();
  }, []);
  return samples;
}
