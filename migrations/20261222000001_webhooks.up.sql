-- Webhooks (N3): per board, URLs that receive a JSON POST on the task events they chose.
-- A table rather than a key of the board's settings: the delivery task writes each
-- attempt's outcome (`last_*`) and must not rewrite, race with or republish the
-- settings the user edits.
CREATE TABLE webhooks (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_id          uuid NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    url               text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000) CHECK (url ~* '^https?://'),
    format            text NOT NULL CHECK (format IN ('json', 'slack', 'discord', 'ntfy')),
    -- Which events: task.entered_column, run.finished, run.failed, needs_you.
    events            text[] NOT NULL,
    -- For task.entered_column: the columns it fires for; empty means every column.
    column_ids        uuid[] NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_delivery_at  timestamptz,
    last_status       integer,
    last_error        text
);
CREATE INDEX webhooks_board ON webhooks (board_id);

-- The events whose notifications (webhooks, desktop) one viban process took on: every
-- process connected to the database hears every event, and only the one that inserts
-- the row delivers, so a webhook is called once. Pruned with the events.
CREATE TABLE notified_events (
    event_id  bigint PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE
);
