DROP TABLE events, event_streams, periodic_tasks, task_activity, agent_sessions, hook_executions,
    executed_column_hooks, column_hooks, hooks, queued_messages, tasks, templates, columns, boards,
    repositories;
DROP TYPE agent_session_status, hook_execution_status, hook_kind, agent_status, column_role;
