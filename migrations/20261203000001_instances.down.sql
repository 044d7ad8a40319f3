DROP INDEX agent_sessions_one_active_per_task;
DROP TABLE instances;
