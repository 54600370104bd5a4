"use client";

export default function ErrorBoundary({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="card space-y-3 p-6">
      <h2 className="text-lg font-semibold text-rose-700 dark:text-rose-300">Something went wrong</h2>
      <p className="text-sm text-slate-600 dark:text-slate-400">{error.message || "The page failed to render."}</p>
      <button type="button" className="btn" onClick={reset}>Try again</button>
    </div>
  );
}
