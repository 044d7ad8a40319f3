-- Periodic tasks (H4) and worktree housekeeping (H6).

-- A schedule creates `#<runs> <title>` in its board's todo column when its cron
-- expression (UTC) comes due. `next_run_at` is what the scheduler claims on
-- (`FOR UPDATE SKIP LOCKED`), so two viban processes on one database fire it once.
CREATE TABLE schedules (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_id         uuid NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    cron             text NOT NULL CHECK (length(cron) BETWEEN 1 AND 200),
    title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 480),
    description      text NOT NULL DEFAULT '',
    agent            text,
    enabled          boolean NOT NULL DEFAULT true,
    -- Null while disabled.
    next_run_at      timestamptz,
    -- Tasks created so far: the next one is `#<runs + 1>`.
    runs             bigint NOT NULL DEFAULT 0,
    last_run_at      timestamptz,
    last_task_id     uuid REFERENCES tasks (id) ON DELETE SET NULL,
    last_skipped_at  timestamptz,
    last_skip_reason text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_board ON schedules (board_id, created_at);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled;

-- When the task entered its column: housekeeping removes the worktrees of tasks that
-- have been done or cancelled for longer than the board's `worktree_ttl_days`.
ALTER TABLE tasks ADD COLUMN column_entered_at timestamptz NOT NULL DEFAULT now();
UPDATE tasks SET column_entered_at = updated_at;
-- What housekeeping last did to the task's worktree while it was done or cancelled:
-- `{"outcome": "removed" | "kept", "reason": …, "at": …}`; cleared when it moves.
ALTER TABLE tasks ADD COLUMN worktree_cleanup jsonb;
