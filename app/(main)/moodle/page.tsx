import MoodleView from "./MoodleView";

export const metadata = { title: "Moodle builds · Moodle DinD" };

export default function MoodlePage() {
  return <MoodleView />;
}
