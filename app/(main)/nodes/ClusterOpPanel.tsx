"use client";

import { useRef, useState } from "react";
import { useEvents } from "../../_lib/events";
import type { OpEventLite } from "../../_components/ui";
import OpPanel from "../instances/[name]/OpPanel";
import type { PanelOp } from "../instances/[name]/ops";

/**
 * The Nodes view's operation: the same panel as an instance page's, fed from the operation's
 * channel (an instance, a clone's new name, or `_cluster` for a drain). `after=0` replays what the
 * channel still holds, so the first steps, which can come before the POST answers, are not lost.
 * Mount it with a key per operation: its events start empty.
 */
export default function ClusterOpPanel({ op, onEnded, onDismiss }: { op: PanelOp; onEnded: (result?: string) => void; onDismiss: () => void }) {
  const [events, setEvents] = useState<OpEventLite[]>([]);
  const ended = useRef(false);
  useEvents(
    {
      op: (d) => {
        const ev = d as OpEventLite;
        if (ev.opId !== op.id || ended.current) return;
        setEvents((cur) => (cur.some((x) => x.seq === ev.seq) ? cur : [...cur, ev]));
        if (ev.type === "done" || ev.type === "error") {
          ended.current = true;
          const line = ev.type === "done" ? op.onDone?.() : undefined;
          onEnded(typeof line === "string" ? line : undefined);
        }
      },
    },
    `?instance=${encodeURIComponent(op.channel)}&after=0`,
    op.id !== null,
  );
  const running = op.id !== null && !op.error && !op.result && !events.some((e) => e.type === "done" || e.type === "error");
  return <OpPanel op={op} events={events} running={running} onDismiss={onDismiss} />;
}
