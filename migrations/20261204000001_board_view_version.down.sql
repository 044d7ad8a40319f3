ALTER TABLE event_streams DROP COLUMN view_seq;
