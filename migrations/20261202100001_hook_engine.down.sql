DROP TABLE task_blockers;
DROP INDEX hook_executions_running_by_column;
DROP INDEX hook_executions_one_running_per_task;
ALTER TABLE hook_executions
    DROP COLUMN board_id,
    DROP COLUMN fence,
    DROP COLUMN starts_agent,
    DROP COLUMN step;
