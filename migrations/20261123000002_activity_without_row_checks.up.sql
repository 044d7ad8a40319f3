-- An agent writes thousands of activity entries a second (issue: agents, ≥ 20 MB/s).
-- Per row, the two foreign keys each ran a lookup and jsonb built its binary form.
-- Now the insert locks the task and the session once per batch (FOR KEY SHARE, as the
-- foreign keys did per row), deletions cascade through statement triggers, and
-- `data` keeps the agent's JSON text as it came (json: checked, not rebuilt).
ALTER TABLE task_activity
    DROP CONSTRAINT task_activity_task_id_fkey,
    DROP CONSTRAINT task_activity_agent_session_id_fkey,
    ALTER COLUMN data TYPE json USING data::json;

CREATE FUNCTION task_activity_of_deleted_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_activity WHERE task_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;

CREATE FUNCTION task_activity_of_deleted_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_activity WHERE agent_session_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_delete_activity AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION task_activity_of_deleted_tasks();
CREATE TRIGGER agent_sessions_delete_activity AFTER DELETE ON agent_sessions
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION task_activity_of_deleted_sessions();
