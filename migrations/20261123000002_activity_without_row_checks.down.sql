DROP TRIGGER agent_sessions_delete_activity ON agent_sessions;
DROP TRIGGER tasks_delete_activity ON tasks;
DROP FUNCTION task_activity_of_deleted_sessions();
DROP FUNCTION task_activity_of_deleted_tasks();
ALTER TABLE task_activity
    ALTER COLUMN data TYPE jsonb USING data::jsonb,
    ADD CONSTRAINT task_activity_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE,
    ADD CONSTRAINT task_activity_agent_session_id_fkey
        FOREIGN KEY (agent_session_id) REFERENCES agent_sessions (id) ON DELETE CASCADE;
