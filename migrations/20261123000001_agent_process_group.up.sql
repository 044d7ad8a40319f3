-- The process group an agent run started, so that after a crash of viban the
-- processes it left behind can be found and stopped at the next start (A4, L9).
ALTER TABLE agent_sessions ADD COLUMN process_group integer;
