"use client";

import dynamic from "next/dynamic";
import { Dialog } from "../../_components/Dialog";
import { Mono } from "../../_components/ui";

const TerminalPanel = dynamic(
  () => import("../../components/terminal/TerminalPanel").then((m) => (m as { TerminalPanel?: React.ComponentType<{ instance: string }> }).TerminalPanel ?? m.default),
  { ssr: false, loading: () => <div className="skeleton h-80 w-full" /> },
);

/** Shells into a cluster instance's containers, on the node that runs them (through its engine). */
export default function ClusterTerminal({ name, node, onClose }: { name: string; node: string; onClose: () => void }) {
  return (
    <Dialog title={`Terminal of ${name}`} description={<>containers on node <Mono>{node}</Mono></>} onClose={onClose} testId="cluster-terminal">
      <div className="w-[min(90vw,60rem)]">
        <TerminalPanel instance={name} />
      </div>
    </Dialog>
  );
}
