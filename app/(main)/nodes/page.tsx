import NodesView from "./NodesView";

export const metadata = { title: "Nodes · Moodle DinD" };

export default function NodesPage() {
  return <NodesView />;
}
