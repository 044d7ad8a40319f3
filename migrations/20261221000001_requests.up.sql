-- What an agent asks of the user while it works (M3; docs/approvals.md): an approval of a
-- tool call it wants to make, or a question. One row per request; a pending one is what
-- a task's `waiting_for` shows and what the run waits on. `answer` holds the answer to a
-- question or the note given with a denial; `decided_by` says who or what closed it.
CREATE TYPE request_kind AS ENUM ('approval', 'question');
CREATE TYPE request_status AS ENUM
    ('pending', 'approved', 'approved_for_session', 'denied', 'answered', 'timed_out', 'interrupted');

CREATE TABLE requests (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    session_id  uuid REFERENCES agent_sessions (id) ON DELETE SET NULL,
    kind        request_kind NOT NULL,
    status      request_status NOT NULL DEFAULT 'pending',
    tool        text,
    summary     text,
    input       jsonb,
    reason      text,
    question    text,
    answer      text,
    decided_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    timeout_at  timestamptz,
    decided_at  timestamptz,
    CHECK ((kind = 'approval') = (tool IS NOT NULL)),
    CHECK ((kind = 'question') = (question IS NOT NULL)),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);

CREATE INDEX requests_by_task ON requests (task_id, created_at);
CREATE INDEX requests_pending ON requests (task_id) WHERE status = 'pending';
CREATE INDEX requests_pending_by_session ON requests (session_id) WHERE status = 'pending';
