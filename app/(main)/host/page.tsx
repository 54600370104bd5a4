import HostView from "./HostView";
import HostCharts from "../../components/charts/HostCharts";
import TerminalPanel from "../../components/terminal/TerminalPanel";

export const metadata = { title: "Host · Moodle DinD" };

export default function HostPage() {
  return (
    <div className="space-y-5">
      <HostView />
      <HostCharts />
      {/* Outside HostView so the terminal does not wait for the host details to load. */}
      <section className="space-y-2">
        <h2 className="font-semibold">Host terminal</h2>
        <TerminalPanel target="host" />
      </section>
    </div>
  );
}
