import InstanceList from "./InstanceList";

export const metadata = { title: "Instances · Moodle DinD" };

export default function Home() {
  return <InstanceList />;
}
