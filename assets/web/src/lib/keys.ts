// Keyboard helpers shared by forms.
import type { Attachment } from "svelte/attachments";

/** `{@attach submitOnCtrlEnter}` on a <form>: Ctrl/⌘+Enter submits it from any field. */
export const submitOnCtrlEnter: Attachment<HTMLFormElement> = (form) => {
  const handler = (event: KeyboardEvent) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  };
  form.addEventListener("keydown", handler);
  return () => form.removeEventListener("keydown", handler);
};
