-- A deleted column used to take its hook executions with it (ON DELETE CASCADE), so a
-- running hook's record vanished. Tasks now leave the column through the same path as
-- a move, which records the executions as cancelled; the rows stay, without a column.
ALTER TABLE hook_executions
    ALTER COLUMN column_id DROP NOT NULL,
    DROP CONSTRAINT hook_executions_column_id_fkey,
    ADD CONSTRAINT hook_executions_column_id_fkey
        FOREIGN KEY (column_id) REFERENCES columns (id) ON DELETE SET NULL;
