"use client";

import { useState, type ReactNode } from "react";
import { Dialog } from "../../_components/Dialog";

/**
 * A button that asks first, for actions that stop sites or delete data (drain, remove, recover):
 * the dialog says what happens, Cancel has the focus, and the confirm button repeats the verb.
 */
export default function ConfirmButton({ label, ariaLabel, title, description, disabled, testId, onConfirm }: { label: string; ariaLabel: string; title: string; description: ReactNode; disabled: boolean; testId: string; onConfirm: () => unknown }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="btn" aria-label={ariaLabel} disabled={disabled} onClick={() => setOpen(true)}>{label}</button>
      {open && (
        <Dialog title={title} description={description} onClose={() => setOpen(false)} testId={testId}>
          <div className="flex justify-end gap-2">
            <button type="button" className="btn" data-autofocus onClick={() => setOpen(false)}>Cancel</button>
            <button
              type="button"
              className="btn-primary"
              onClick={() => {
                setOpen(false);
                void onConfirm();
              }}
            >
              {label}
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}
