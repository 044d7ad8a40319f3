-- The whole data model of PRODUCT.md: boards and their repositories, columns, tasks,
-- templates, hooks and their executions, agent sessions, task activity, periodic
-- tasks, and the event log behind realtime updates. Positions are fractional-index
-- keys (src/position.rs), compared byte-wise (COLLATE "C").

CREATE TYPE column_role AS ENUM ('todo', 'in_progress', 'review', 'done', 'cancelled', 'custom');
CREATE TYPE agent_status AS ENUM ('idle', 'queued', 'running', 'error', 'interrupted');
CREATE TYPE hook_kind AS ENUM ('script', 'agent');
CREATE TYPE hook_execution_status AS ENUM ('pending', 'running', 'completed', 'failed', 'cancelled', 'skipped');
CREATE TYPE agent_session_status AS ENUM ('queued', 'running', 'completed', 'failed', 'stopped', 'interrupted', 'timed_out');

CREATE TABLE repositories (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- An existing local repository, or a clone viban manages under repos/.
    managed        boolean NOT NULL DEFAULT false,
    path           text NOT NULL UNIQUE,
    clone_url      text,
    default_branch text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (managed = (clone_url IS NOT NULL))
);

CREATE TABLE boards (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '',
    repository_id uuid REFERENCES repositories (id) ON DELETE SET NULL,
    -- Default agent, base branch, "copy into worktrees" globs, and the like.
    settings      jsonb NOT NULL DEFAULT '{}',
    task_counter  bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE columns (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_id       uuid NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    color          text NOT NULL DEFAULT '#6b7280',
    position       text COLLATE "C" NOT NULL,
    role           column_role NOT NULL DEFAULT 'custom',
    hooks_enabled  boolean NOT NULL DEFAULT true,
    max_concurrent integer CHECK (max_concurrent > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (board_id, position)
);
CREATE INDEX columns_board ON columns (board_id, position);

CREATE TABLE templates (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_id    uuid NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    title       text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    position    text COLLATE "C" NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX templates_board ON templates (board_id, position);

CREATE TABLE tasks (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_id        uuid NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    column_id       uuid NOT NULL REFERENCES columns (id),
    -- Changes on every column change: hook executions belong to one stay (HOOKS.md 8).
    column_stay     uuid NOT NULL DEFAULT gen_random_uuid(),
    position        text COLLATE "C" NOT NULL,
    number          bigint NOT NULL,
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description     text NOT NULL DEFAULT '',
    agent_status    agent_status NOT NULL DEFAULT 'idle',
    status_message  text,
    error           text,
    agent           text,
    agent_settings  jsonb NOT NULL DEFAULT '{}',
    base_branch     text,
    branch          text,
    worktree_path   text,
    pr_url          text,
    pr_number       integer,
    pr_status       text CHECK (pr_status IN ('open', 'draft', 'merged', 'closed')),
    parent_task_id  uuid REFERENCES tasks (id) ON DELETE SET NULL,
    auto_start      boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (board_id, number)
);
CREATE INDEX tasks_column ON tasks (column_id, position);
CREATE INDEX tasks_board ON tasks (board_id);
CREATE INDEX tasks_search ON tasks USING gin (to_tsvector('simple', title || ' ' || description));

-- Chat messages waiting for the agent (HOOKS.md 9).
CREATE TABLE queued_messages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id    uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queued_messages_task ON queued_messages (task_id, id);

-- Board-scoped script and agent hooks; built-ins live in code (`builtin:<name>`).
CREATE TABLE hooks (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_id        uuid NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind            hook_kind NOT NULL,
    command         text,
    prompt          text,
    agent           text,
    timeout_seconds integer NOT NULL DEFAULT 600 CHECK (timeout_seconds > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'script') = (command IS NOT NULL)),
    CHECK ((kind = 'agent') = (prompt IS NOT NULL))
);

CREATE TABLE column_hooks (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    column_id    uuid NOT NULL REFERENCES columns (id) ON DELETE CASCADE,
    hook_id      uuid REFERENCES hooks (id) ON DELETE CASCADE,
    builtin      text,
    position     text COLLATE "C" NOT NULL,
    execute_once boolean NOT NULL DEFAULT false,
    transparent  boolean NOT NULL DEFAULT false,
    removable    boolean NOT NULL DEFAULT true,
    settings     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((hook_id IS NULL) <> (builtin IS NULL)),
    UNIQUE (column_id, position)
);

-- Attachments marked execute-once that a task has run (HOOKS.md 2, 4).
CREATE TABLE executed_column_hooks (
    task_id        uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    column_hook_id uuid NOT NULL REFERENCES column_hooks (id) ON DELETE CASCADE,
    executed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, column_hook_id)
);

CREATE TABLE hook_executions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id        uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    column_hook_id uuid REFERENCES column_hooks (id) ON DELETE SET NULL,
    column_id      uuid NOT NULL REFERENCES columns (id) ON DELETE CASCADE,
    column_stay    uuid NOT NULL,
    hook_name      text NOT NULL,
    position       text COLLATE "C" NOT NULL,
    transparent    boolean NOT NULL,
    status         hook_execution_status NOT NULL DEFAULT 'pending',
    reason         text CHECK (reason IN ('error', 'disabled', 'column_change', 'server_restart', 'user_cancelled', 'timeout')),
    output         text NOT NULL DEFAULT '',
    error          text,
    -- Exactly-once across instances (T2): who runs it, until when.
    claimed_by     text,
    lease_until    timestamptz,
    queued_at      timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX hook_executions_task ON hook_executions (task_id, queued_at);
CREATE INDEX hook_executions_pending ON hook_executions (queued_at) WHERE status IN ('pending', 'running');

CREATE TABLE agent_sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id             uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    hook_execution_id   uuid REFERENCES hook_executions (id) ON DELETE SET NULL,
    agent               text NOT NULL,
    -- The agent's own session or thread id, for resuming (A4).
    external_session_id text,
    status              agent_session_status NOT NULL DEFAULT 'queued',
    prompt              text NOT NULL,
    command             jsonb NOT NULL DEFAULT '[]',
    exit_code           integer,
    stderr_tail         text,
    cost_usd            numeric(12, 6),
    input_tokens        bigint,
    output_tokens       bigint,
    instance_id         text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz
);
CREATE INDEX agent_sessions_task ON agent_sessions (task_id, created_at);

-- Everything that happened on a task, in order (D6): user, assistant, system and tool
-- messages, normalized agent entries, hook executions.
CREATE TABLE task_activity (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id          uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    agent_session_id uuid REFERENCES agent_sessions (id) ON DELETE CASCADE,
    kind             text NOT NULL,
    data             jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_activity_task ON task_activity (task_id, id);

CREATE TABLE periodic_tasks (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_id     uuid NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    cron         text NOT NULL,
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description  text NOT NULL DEFAULT '',
    agent        text,
    enabled      boolean NOT NULL DEFAULT true,
    runs         bigint NOT NULL DEFAULT 0,
    last_task_id uuid REFERENCES tasks (id) ON DELETE SET NULL,
    last_run_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The realtime log (D8): every change appends an event to its streams ("board:<id>",
-- "task:<id>") with a per-stream sequence, in the same transaction as the change, then
-- NOTIFYs; a reconnecting client asks for what followed its last sequence.
CREATE TABLE event_streams (
    stream   text PRIMARY KEY,
    last_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream     text NOT NULL,
    seq        bigint NOT NULL,
    kind       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream, seq)
);
