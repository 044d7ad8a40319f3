DROP INDEX tasks_open_pull_requests;
ALTER TABLE tasks
    DROP COLUMN pr_review_decision,
    DROP COLUMN pr_checks,
    DROP COLUMN pr_synced_at,
    DROP COLUMN pr_sync_error,
    DROP COLUMN branch_ahead,
    DROP COLUMN branch_behind;
