ALTER TABLE agent_sessions DROP COLUMN process_group;
