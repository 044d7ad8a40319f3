-- The viban processes that use this database (issue 11). Each claims the random id its
-- home keeps (file `instance-id`) and beats a heartbeat; one whose heartbeat is older
-- than a lease is gone. `claim` is new at every start: it tells the start that wrote a
-- row from a copy of the same home. Agent sessions name their instance by this id
-- (`agent_sessions.instance_id`), and a start recovers only its own.
CREATE TABLE instances (
    id           text PRIMARY KEY,
    claim        uuid NOT NULL,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- A task has at most one active agent session. Two vibans on one database could each
-- start one on the same task before; all but the newest of those are interrupted.
WITH ranked AS (
    SELECT id, row_number() OVER (PARTITION BY task_id ORDER BY created_at DESC, id DESC) AS rank
    FROM agent_sessions
    WHERE status IN ('queued', 'running')
)
UPDATE agent_sessions
SET status = 'interrupted', finished_at = now(), process_group = NULL
WHERE id IN (SELECT id FROM ranked WHERE rank > 1);

CREATE UNIQUE INDEX agent_sessions_one_active_per_task ON agent_sessions (task_id)
    WHERE status IN ('queued', 'running');
