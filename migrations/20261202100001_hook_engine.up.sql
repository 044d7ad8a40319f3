-- The hook engine (docs/hooks.md). Executions become a durable queue: what a step does
-- is copied from its hook when it is queued (`step`), so a later edit of the hook does
-- not change a run already asked for; a claim takes a lease and a fencing token that
-- every later write checks; and a task never runs two hooks at once.
ALTER TABLE hook_executions
    ADD COLUMN step          jsonb NOT NULL DEFAULT '{}',
    -- Whether the step starts an agent (or a move that will): such steps wait while a
    -- blocker of the task is not done (D11).
    ADD COLUMN starts_agent  boolean NOT NULL DEFAULT false,
    ADD COLUMN fence         bigint NOT NULL DEFAULT 0,
    ADD COLUMN board_id      uuid REFERENCES boards (id) ON DELETE CASCADE;
UPDATE hook_executions e SET board_id = t.board_id FROM tasks t WHERE t.id = e.task_id;

CREATE UNIQUE INDEX hook_executions_one_running_per_task ON hook_executions (task_id)
    WHERE status = 'running';
CREATE INDEX hook_executions_running_by_column ON hook_executions (column_id)
    WHERE status = 'running';

-- Task dependencies (D11): a task's agent waits until each of its blockers is done.
CREATE TABLE task_blockers (
    task_id    uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    blocker_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, blocker_id),
    CHECK (task_id <> blocker_id)
);
CREATE INDEX task_blockers_blocker ON task_blockers (blocker_id);
