import { notFound } from "next/navigation";
import { NAME_RE } from "@/lib/names";
import InstanceDetail from "./InstanceDetail";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }) {
  return { title: `${(await params).name} · Moodle DinD` };
}

export default async function InstancePage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  if (!NAME_RE.test(name)) notFound();
  return <InstanceDetail name={name} />;
}
