// A form's request state: busy while it is sent, and the server's problem, placed on
// the field it names (shown beside that field) or on the whole form. What the user
// typed stays in the form whatever happens.
import { ApiError, messageOf } from "./api";

export class FormState {
  busy = $state(false);
  /** The problem that names no field we show. */
  error = $state<string | null>(null);
  /** Field → the server's message about it. */
  fields = $state<Record<string, string>>({});

  /** Runs `send`; returns its result, or null when it failed (the error is shown). */
  async submit<T>(send: () => Promise<T>, shownFields: string[] = []): Promise<T | null> {
    this.busy = true;
    this.error = null;
    this.fields = {};
    try {
      return await send();
    } catch (error) {
      const field = error instanceof ApiError ? error.field : null;
      if (field && shownFields.includes(field)) this.fields = { [field]: messageOf(error) };
      else this.error = messageOf(error);
      return null;
    } finally {
      this.busy = false;
    }
  }

  fail(message: string) {
    this.error = message;
  }
}
