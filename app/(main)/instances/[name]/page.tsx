import { notFound } from "next/navigation";
import InstanceDetail from "./InstanceDetail";

const NAME_RE = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }) {
  return { title: `${(await params).name} · Moodle DinD` };
}

export default async function InstancePage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  if (!NAME_RE.test(name)) notFound();
  return <InstanceDetail name={name} />;
}
