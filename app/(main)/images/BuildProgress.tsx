import type { OpEventLite } from "../../_components/ui";

/**
 * Where an image build stands, read from its streamed output: which image (n of m) and the
 * Dockerfile step ("Step 4/9") of the current one, plus the output itself in a live log region.
 */
export function buildProgress(lines: string[], total: number): { image: string | null; index: number; step: number; steps: number } {
  let image: string | null = null;
  let index = 0;
  let step = 0;
  let steps = 0;
  for (const l of lines) {
    const b = /^(?:building (\S+) on|(\S+) is up to date)/.exec(l);
    if (b) {
      image = b[1] ?? b[2];
      index = Math.min(index + 1, Math.max(total, 1));
      step = 0;
      steps = 0;
    }
    const s = /^Step (\d+)\/(\d+) :/.exec(l);
    if (s) {
      step = Number(s[1]);
      steps = Number(s[2]);
    }
  }
  return { image, index, step, steps };
}

export default function BuildProgress({ events, total }: { events: OpEventLite[]; total: number }) {
  const lines = events.filter((e) => e.type === "log" && e.message).map((e) => e.message!);
  const p = buildProgress(lines, total);
  const pct = p.steps ? Math.round((p.step / p.steps) * 100) : 0;
  return (
    <div className="space-y-2" data-testid="build-progress">
      {p.image && (
        <p className="text-sm">
          Image {p.index} of {Math.max(total, p.index)}: <span className="font-mono">{p.image}</span>
          {p.steps > 0 && <> · step {p.step} of {p.steps}</>}
        </p>
      )}
      {p.steps > 0 && <progress className="h-2 w-full" max={100} value={pct} aria-label={`Build of ${p.image}: step ${p.step} of ${p.steps}`} />}
      {lines.length > 0 && (
        <pre role="log" aria-label="Build output" aria-live="polite" tabIndex={0} className="max-h-64 overflow-auto rounded-lg bg-slate-950 p-3 font-mono text-[11px] text-slate-200" data-testid="build-log">
          {lines.slice(-300).join("\n")}
        </pre>
      )}
    </div>
  );
}
