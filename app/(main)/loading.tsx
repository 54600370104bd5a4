export default function Loading() {
  return (
    <div className="space-y-4" aria-busy="true">
      <div className="skeleton h-8 w-48" />
      {[0, 1, 2].map((i) => (
        <div key={i} className="card space-y-3 p-5">
          <div className="skeleton h-5 w-1/3" />
          <div className="skeleton h-4 w-2/3" />
        </div>
      ))}
    </div>
  );
}
