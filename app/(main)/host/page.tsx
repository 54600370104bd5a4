import HostView from "./HostView";

export const metadata = { title: "Host · Moodle DinD" };

export default function HostPage() {
  return <HostView />;
}
