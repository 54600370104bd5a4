import SettingsView from "./SettingsView";

export const metadata = { title: "Settings · Moodle DinD" };

export default function SettingsPage() {
  return <SettingsView />;
}
