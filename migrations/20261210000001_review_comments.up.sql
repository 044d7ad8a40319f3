-- Review comments (V2): a note on lines of a task's diff, kept with the task until it
-- is sent to the agent as one message (`sent_at`), and after, as the review's record.
-- `side` says which file the lines count in: the merge-base's (`old`) or the
-- worktree's (`new`). `quoted_code` is what those lines said when the comment was made.
CREATE TYPE review_side AS ENUM ('old', 'new');

CREATE TABLE review_comments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    file_path   text NOT NULL CHECK (length(file_path) BETWEEN 1 AND 4096),
    side        review_side NOT NULL,
    start_line  integer NOT NULL CHECK (start_line >= 1),
    end_line    integer NOT NULL CHECK (end_line >= start_line),
    quoted_code text NOT NULL DEFAULT '',
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);

CREATE INDEX review_comments_by_task ON review_comments (task_id, created_at, id);
