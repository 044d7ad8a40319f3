ALTER TABLE tasks DROP COLUMN worktree_cleanup;
ALTER TABLE tasks DROP COLUMN column_entered_at;
DROP TABLE schedules;
