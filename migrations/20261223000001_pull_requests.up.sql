-- Pull requests (V5) and the branch's position (V4), on the task row they belong to.
-- `pr_url`, `pr_number` and `pr_status` exist since the boards migration; the sync
-- loop (`board::pull_requests`) adds what GitHub says about the pull request, and
-- every place that computes the branch's ahead/behind counts keeps them here, so a
-- board read never runs git (docs/pull-requests.md).
ALTER TABLE tasks
    ADD COLUMN pr_review_decision text
        CHECK (pr_review_decision IN ('approved', 'changes_requested', 'review_required')),
    -- {"passed": n, "failed": n, "pending": n} from the pull request's status checks.
    ADD COLUMN pr_checks jsonb,
    -- When the sync last asked gh about the pull request (also its claim: an instance
    -- sets it before asking, so two instances do not ask at once).
    ADD COLUMN pr_synced_at timestamptz,
    -- Why the last sync failed (gh missing, not logged in), until one succeeds.
    ADD COLUMN pr_sync_error text,
    ADD COLUMN branch_ahead integer CHECK (branch_ahead >= 0),
    ADD COLUMN branch_behind integer CHECK (branch_behind >= 0);

CREATE INDEX tasks_open_pull_requests ON tasks (pr_synced_at NULLS FIRST)
    WHERE pr_status IN ('open', 'draft');
