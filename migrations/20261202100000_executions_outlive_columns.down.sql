DELETE FROM hook_executions WHERE column_id IS NULL;
ALTER TABLE hook_executions
    DROP CONSTRAINT hook_executions_column_id_fkey,
    ADD CONSTRAINT hook_executions_column_id_fkey
        FOREIGN KEY (column_id) REFERENCES columns (id) ON DELETE CASCADE,
    ALTER COLUMN column_id SET NOT NULL;
