/**
 * What the instance page's operation panel shows: an operation on some channel (this instance,
 * or a clone's new name), found by id — or, for a download whose id the answer cannot carry
 * (GET /export), the first operation named `match` that starts after it was asked for. Progress
 * the browser measures itself (download bytes) and the result line come from the action.
 */
export interface PanelOp {
  id: string | null;
  match?: string;
  label: string;
  channel: string;
  /** Still busy on the browser's side (a download) after the server's operation ended. */
  pending?: boolean;
  progress?: { what: string; done: number; total: number };
  result?: string;
  error?: string;
  /** A short line for the finished operation, or an action to take (navigate, reload). */
  onDone?: () => string | void;
}

export type StartOp = (op: PanelOp) => void;
export type UpdateOp = (patch: Partial<PanelOp>) => void;
