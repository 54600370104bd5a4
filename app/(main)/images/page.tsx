import ImagesView from "./ImagesView";

export const metadata = { title: "Images · Moodle DinD" };

export default function ImagesPage() {
  return <ImagesView />;
}
