// The column roles as the settings forms offer them: the server's values, in words.
import type { ColumnRole } from "../lib/api";

export const ROLES: { value: ColumnRole; label: string }[] = [
  { value: "todo", label: "To do" },
  { value: "in_progress", label: "In progress" },
  { value: "review", label: "Review" },
  { value: "done", label: "Done" },
  { value: "cancelled", label: "Cancelled" },
  { value: "custom", label: "Custom" },
];
