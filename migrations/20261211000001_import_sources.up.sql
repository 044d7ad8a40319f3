-- What `viban import` brought over (D9): one row per thing of another tool's that became
-- a board or a task here, by the other tool's id, so that importing the same source again
-- creates nothing twice. `target_id` is the board's or task's id; it is kept when that
-- board or task is deleted, so a deliberate deletion is not undone by the next import.
CREATE TABLE import_sources (
    source     text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('board', 'task')),
    source_id  text NOT NULL,
    target_id  uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, kind, source_id)
);
