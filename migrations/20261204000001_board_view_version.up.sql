-- A board's view (GET /api/boards/{id}) is cached by its version: the sequence, on the
-- board's stream, of the last event that changed what the view shows. Events that show
-- nothing new in it (a hook execution's progress, a sound) move `last_seq` but not
-- `view_seq`, so a busy pipeline does not make every board read rebuild the view.
ALTER TABLE event_streams ADD COLUMN view_seq bigint NOT NULL DEFAULT 0;
UPDATE event_streams SET view_seq = last_seq;
