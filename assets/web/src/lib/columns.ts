// Deleting a column, from the board or from settings: one confirmation that says where
// its tasks go, then the request.
import { api, messageOf, type Column } from "./api";

/** Asks, then deletes; the server's words when it refused, null otherwise (or when cancelled). */
export async function confirmAndDeleteColumn(column: Column, taskCount: number): Promise<string | null> {
  const message =
    taskCount > 0
      ? `Delete the column “${column.name}”? Its ${taskCount} ${taskCount === 1 ? "task moves" : "tasks move"} to the board's first column, and the hooks attached to it are removed.`
      : `Delete the column “${column.name}” and the hooks attached to it?`;
  if (!confirm(message)) return null;
  try {
    await api.deleteColumn(column.id);
    return null;
  } catch (error) {
    return messageOf(error);
  }
}
