import CreateForm from "./CreateForm";

export const metadata = { title: "New instance · Moodle DinD" };

export default function NewInstancePage() {
  return <CreateForm />;
}
