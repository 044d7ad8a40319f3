//! A column's hooks as a pipeline for each task that enters it (`docs/hooks.md`): what
//! is queued when a task enters a column ([`plan`], rule 2), what a hook's start and
//! end do to the task (rules 3–6), chat (rules 9–10), dependencies (D11), and the
//! user's retry, cancel and clear-error. The engine (`hooks::engine`) claims and runs
//! the queued executions and calls back in here to record what happened, each in one
//! transaction.

use std::collections::HashSet;

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Error, Result, required_text};
use crate::db::boards::ColumnRole;
use crate::db::events::EventKind;
use crate::db::executions::{self, Claimed, HookExecution, NewExecution};
use crate::db::tasks::{self as task_rows, AgentStatus, Place, Task};
use crate::hooks::{Step, Target};
use crate::limits::TEXT_MAX;

/// How an attachment is recorded when a task enters its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    Pending,
    /// Recorded as `skipped` with this reason (`disabled`, `error`).
    Skipped(&'static str),
    /// An execute-once hook the task already ran: not recorded at all.
    Dropped,
}

/// What rule 2 needs to know of an attachment.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput {
    pub id: Uuid,
    pub execute_once: bool,
    pub transparent: bool,
}

/// Rule 2, for a task entering a column: drop the execute-once attachments it already
/// ran; with the column's hooks off, record every other as `skipped/disabled`; for a
/// task in error, record the non-transparent ones as `skipped/error` and queue only the
/// transparent ones; else queue all.
pub fn plan(
    attachments: &[PlanInput],
    hooks_enabled: bool,
    in_error: bool,
    ran_once: &HashSet<Uuid>,
) -> Vec<Planned> {
    attachments
        .iter()
        .map(|attachment| {
            if attachment.execute_once && ran_once.contains(&attachment.id) {
                Planned::Dropped
            } else if !hooks_enabled {
                Planned::Skipped("disabled")
            } else if in_error && !attachment.transparent {
                Planned::Skipped("error")
            } else {
                Planned::Pending
            }
        })
        .collect()
}

/// Queues the hooks of the column `task` has just entered, for its new stay, in the
/// transaction of the move.
pub(crate) async fn queue_on_entry(connection: &mut PgConnection, task: &Task) -> Result<()> {
    let Some(stay) = executions::stay_of(connection, task.id).await? else { return Ok(()) };
    let (enabled, attachments) = executions::attachments(connection, task.column_id).await?;
    if attachments.is_empty() {
        return Ok(());
    }
    let ran_once: HashSet<Uuid> = executions::executed_once(connection, task.id).await?.into_iter().collect();
    let inputs: Vec<PlanInput> = attachments
        .iter()
        .map(|a| PlanInput { id: a.id, execute_once: a.execute_once, transparent: a.transparent })
        .collect();
    let planned = plan(&inputs, enabled, task.agent_status == AgentStatus::Error, &ran_once);
    for (attachment, planned) in attachments.iter().zip(planned) {
        let skipped = match planned {
            Planned::Dropped => continue,
            Planned::Pending => None,
            Planned::Skipped(reason) => Some(reason),
        };
        let hook = match attachment.hook_id {
            Some(hook_id) => crate::db::hooks::get(connection, hook_id).await?,
            None => None,
        };
        let step = Step::of(attachment.builtin.as_deref(), &attachment.settings, hook.as_ref());
        // Auto-start has nothing to do for a task that does not start by itself.
        if step == Step::AutoStart && !task.auto_start {
            continue;
        }
        let name = match (&hook, attachment.builtin.as_deref()) {
            (Some(hook), _) => hook.name.clone(),
            (None, Some(builtin)) => crate::hooks::builtin(builtin)
                .map_or_else(|| builtin.to_string(), |known| known.name.to_string()),
            (None, None) => "Hook".to_string(),
        };
        let new = NewExecution {
            board_id: task.board_id,
            task_id: task.id,
            column_id: task.column_id,
            column_stay: stay,
            column_hook_id: attachment.id,
            hook_name: &name,
            position: &attachment.position,
            transparent: attachment.transparent,
            step: serde_json::to_value(&step).unwrap_or_default(),
            starts_agent: step.starts_agent(),
            skipped,
        };
        let execution = executions::insert(connection, &new).await?;
        executions::publish(connection, &execution).await?;
    }
    Ok(())
}

/// Rule 3: a non-transparent hook that starts — one that takes a while — says so on
/// the task's card.
pub async fn started(pool: &PgPool, claimed: &Claimed, step: &Step) -> Result<()> {
    crate::db::retrying(|| started_once(pool, claimed, step)).await
}

async fn started_once(pool: &PgPool, claimed: &Claimed, step: &Step) -> Result<()> {
    let mut tx = pool.begin().await?;
    if let Some(execution) = executions::get(&mut tx, claimed.id).await? {
        executions::publish(&mut tx, &execution).await?;
    }
    if !claimed.transparent && step.takes_time() {
        let message = format!("Running {}", claimed.hook_name);
        if let Some(task) = task_rows::lock(&mut tx, claimed.task_id).await?
            && task.agent_status != AgentStatus::Error
            && let Some(task) =
                task_rows::set_status(&mut tx, task.id, AgentStatus::Running, Some(&message), None).await?
        {
            task_rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// How a step ended.
#[derive(Debug)]
pub enum Outcome {
    Completed {
        output: String,
    },
    Failed {
        error: String,
        output: String,
    },
    /// The step made the task leave its column (`move-task`): the move is made in the
    /// transaction that records the step as completed.
    Move {
        target: Target,
    },
    /// Every client showing the board plays `sound` (`play-sound`), told in the
    /// transaction that records the step as completed.
    Sound {
        sound: String,
    },
    /// The task's description becomes `description` (`refine`), through the domain's
    /// task edit in the transaction that records the step as completed — unless it is
    /// no longer `was` (the user edited it meanwhile): then the step fails and the
    /// description stays the user's. `output` is what the step printed.
    Describe {
        was: String,
        description: String,
        output: String,
    },
}

/// Why a `refine` step's description was not applied.
const EDITED_MEANWHILE: &str = "the description was edited while the agent refined it, so it was left as edited; the agent's text is \
     this hook's output";

/// Records the end of a claimed execution, if the claim still holds (rules 4–6), and
/// returns the task to idle when its stay has nothing left to run. False when the claim
/// was lost (the task left the column, or the lease ran out): nothing was written.
pub async fn finished(pool: &PgPool, claimed: &Claimed, outcome: Outcome) -> Result<bool> {
    crate::db::retrying(|| finished_once(pool, claimed, &outcome)).await
}

async fn finished_once(pool: &PgPool, claimed: &Claimed, outcome: &Outcome) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let Some(task) = task_rows::lock(&mut tx, claimed.task_id).await? else { return Ok(false) };
    let (failed, output, target) = match outcome {
        Outcome::Completed { output } => (None, output.as_str(), None),
        Outcome::Failed { error, output } => (Some(error.as_str()), output.as_str(), None),
        Outcome::Move { target } => (None, "", Some(target)),
        Outcome::Sound { .. } => (None, "", None),
        Outcome::Describe { was, output, .. } if *was != task.description => {
            (Some(EDITED_MEANWHILE), output.as_str(), None)
        }
        Outcome::Describe { output, .. } => (None, output.as_str(), None),
    };
    let Some(execution) = executions::finish(&mut tx, claimed.id, claimed.fence, failed, output).await?
    else {
        return Ok(false);
    };
    executions::publish(&mut tx, &execution).await?;
    if let Outcome::Sound { sound } = outcome {
        let payload = json!({ "task_id": task.id, "sound": sound, "hook_execution_id": claimed.id });
        crate::db::events::publish_on_board(&mut tx, claimed.board_id, EventKind::SoundPlayed, &payload)
            .await?;
    }
    if failed.is_none()
        && let Some(attachment) = claimed.column_hook_id
    {
        executions::mark_executed_once(&mut tx, claimed.task_id, attachment).await?;
    }
    let mut task = task;
    if failed.is_none()
        && let Outcome::Describe { description, .. } = outcome
    {
        let edit = super::tasks::TaskEdit { description: Some(description.clone()), ..Default::default() };
        task = super::tasks::edit(&mut tx, task.id, edit).await?;
    }
    if let Some(error) = failed
        && !claimed.transparent
    {
        // Rule 5: the task is in error; the stay's other non-transparent hooks are
        // skipped, its transparent ones still run.
        let message = format!("{} failed: {}", claimed.hook_name, first_lines(error, 5));
        if let Some(updated) =
            task_rows::set_status(&mut tx, task.id, AgentStatus::Error, None, Some(&message)).await?
        {
            task = updated;
            task_rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
        }
        for skipped in executions::skip_after_error(&mut tx, claimed.task_id, claimed.column_stay).await? {
            executions::publish(&mut tx, &skipped).await?;
        }
    }
    if let Some(target) = target {
        let column_id = target_column(&mut tx, &task, target).await?;
        if column_id != task.column_id {
            task_rows::lock_column(&mut tx, column_id).await?;
            let position = super::tasks::slot(&mut tx, column_id, Some(task.id), Place::End).await?;
            task = super::tasks::enter_column(&mut tx, &task, column_id, &position).await?;
        }
    }
    settle(&mut tx, &task).await?;
    tx.commit().await?;
    Ok(true)
}

/// Rule 8: the executions `instance` left running — or, with `expired`, any whose lease
/// ran out (an instance that died) — are recorded `cancelled/server_restart`, and their
/// tasks settle (the next hook runs, or the card stops saying a hook runs). Returns how
/// many there were.
pub async fn abandoned(pool: &PgPool, instance: &str, expired: bool) -> Result<usize> {
    crate::db::retrying(|| abandoned_once(pool, instance, expired)).await
}

async fn abandoned_once(pool: &PgPool, instance: &str, expired: bool) -> Result<usize> {
    let mut tx = pool.begin().await?;
    let abandoned = executions::abandon(&mut tx, instance, expired).await?;
    for execution in &abandoned {
        executions::publish(&mut tx, execution).await?;
    }
    let mut tasks: Vec<Uuid> = abandoned.iter().map(|execution| execution.task_id).collect();
    tasks.sort_unstable();
    tasks.dedup();
    for task_id in tasks {
        if let Some(task) = task_rows::lock(&mut tx, task_id).await? {
            settle(&mut tx, &task).await?;
        }
    }
    tx.commit().await?;
    Ok(abandoned.len())
}

/// Rule 4's end: a task whose stay has nothing left pending or running is idle again,
/// unless it is in error or its agent still works — or, if chat messages came in after
/// its agent's last run, it enters the `in_progress` column again for them (rule 9).
async fn settle(connection: &mut PgConnection, task: &Task) -> Result<()> {
    if matches!(task.agent_status, AgentStatus::Error | AgentStatus::Interrupted)
        || task_rows::hooks_active(connection, task.id).await?
    {
        return Ok(());
    }
    if task_rows::has_messages(connection, task.id).await?
        && let Some(column_id) =
            task_rows::column_with_role(connection, task.board_id, ColumnRole::InProgress).await?
    {
        task_rows::lock_column(connection, column_id).await?;
        let position = super::tasks::slot(connection, column_id, Some(task.id), Place::End).await?;
        super::tasks::enter_column(connection, task, column_id, &position).await?;
        return Ok(());
    }
    if task.agent_status == AgentStatus::Idle && task.status_message.is_none() {
        return Ok(());
    }
    if let Some(task) = task_rows::set_status(connection, task.id, AgentStatus::Idle, None, None).await? {
        task_rows::publish(connection, &task, EventKind::TaskUpdated).await?;
    }
    Ok(())
}

/// The column a `move-task` target names on the task's board.
async fn target_column(connection: &mut PgConnection, task: &Task, target: &Target) -> Result<Uuid> {
    let found = match target {
        Target::Role(role) => task_rows::column_with_role(connection, task.board_id, *role).await?,
        Target::ColumnId(id) => task_rows::board_of_column(connection, *id)
            .await?
            .filter(|board| *board == task.board_id)
            .map(|_| *id),
        Target::Next => task_rows::next_column(connection, task.column_id).await?,
    };
    found.ok_or_else(|| {
        Error::conflict(match target {
            Target::Role(role) => format!("the board has no {} column to move the task to", role_name(*role)),
            Target::ColumnId(id) => format!("no column {id} on this board to move the task to"),
            Target::Next => "the task is in the board's last column; there is no next one".to_string(),
        })
    })
}

pub(crate) fn role_name(role: ColumnRole) -> &'static str {
    match role {
        ColumnRole::Todo => "todo",
        ColumnRole::InProgress => "in_progress",
        ColumnRole::Review => "review",
        ColumnRole::Done => "done",
        ColumnRole::Cancelled => "cancelled",
        ColumnRole::Custom => "custom",
    }
}

/// `builtin:auto-start`: the task moves to the `in_progress` column if it has
/// `auto_start`, else nothing happens.
pub async fn auto_start_target(pool: &PgPool, task_id: Uuid) -> Result<Option<Target>> {
    let task = super::tasks::get(pool, task_id).await?;
    Ok(task.auto_start.then_some(Target::Role(ColumnRole::InProgress)))
}

/// What a chat message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat {
    /// The task's agent or hooks are busy: the message waits for the run-agent hook.
    Queued,
    /// The task was idle: it moved to (or re-entered) the `in_progress` column, whose
    /// run-agent hook takes the message.
    Started,
}

/// A chat message (rules 9–10): queued for the task's agent; a task that is not busy
/// leaves any error behind and enters the `in_progress` column, so that its hooks run
/// the agent on it.
pub async fn message(pool: &PgPool, agent_busy: bool, task_id: Uuid, text: &str) -> Result<Chat> {
    crate::db::retrying(|| message_once(pool, agent_busy, task_id, text)).await
}

async fn message_once(pool: &PgPool, agent_busy: bool, task_id: Uuid, text: &str) -> Result<Chat> {
    let mut tx = pool.begin().await?;
    let chat = queue_message(&mut tx, agent_busy, task_id, text).await?;
    tx.commit().await?;
    Ok(chat)
}

/// [`message`] in the caller's transaction (a review's comments sent as one message,
/// `board::review`).
pub(crate) async fn queue_message(
    tx: &mut PgConnection,
    agent_busy: bool,
    task_id: Uuid,
    text: &str,
) -> Result<Chat> {
    let text = required_text("text", text, TEXT_MAX)?;
    let task = task_rows::lock(&mut *tx, task_id).await?.ok_or_else(|| Error::not_found("task", task_id))?;
    task_rows::queue_message(&mut *tx, task_id, &text).await?;
    crate::db::sessions::append(
        &mut *tx,
        task_id,
        None,
        &[json!({ "kind": "user_message", "text": text, "queued": true })],
    )
    .await?;
    let busy = agent_busy || task_rows::hooks_active(&mut *tx, task_id).await?;
    let chat = if busy {
        Chat::Queued
    } else {
        let column_id =
            task_rows::column_with_role(&mut *tx, task.board_id, ColumnRole::InProgress)
                .await?
                .ok_or_else(|| Error::conflict("the board has no in_progress column to run the agent in"))?;
        let task = match task_rows::set_status(&mut *tx, task_id, AgentStatus::Idle, None, None).await? {
            Some(cleared) if task.agent_status == AgentStatus::Error => {
                task_rows::publish(&mut *tx, &cleared, EventKind::TaskUpdated).await?;
                cleared
            }
            Some(cleared) => cleared,
            None => task,
        };
        task_rows::lock_column(&mut *tx, column_id).await?;
        let position = super::tasks::slot(&mut *tx, column_id, Some(task_id), Place::End).await?;
        super::tasks::enter_column(&mut *tx, &task, column_id, &position).await?;
        Chat::Started
    };
    Ok(chat)
}

/// Messages that came in while an agent run started by hand (not by a hook) was
/// underway: once it has ended (`agent_busy` false), the task settles — entering the
/// `in_progress` column again so that its run-agent hook takes them (rule 9).
pub async fn pick_up_messages(pool: &PgPool, task_id: Uuid) -> Result<()> {
    crate::db::retrying(|| pick_up_messages_once(pool, task_id)).await
}

async fn pick_up_messages_once(pool: &PgPool, task_id: Uuid) -> Result<()> {
    let mut tx = pool.begin().await?;
    let Some(task) = task_rows::lock(&mut tx, task_id).await? else { return Ok(()) };
    if task.agent_status == AgentStatus::Running || !task_rows::has_messages(&mut tx, task_id).await? {
        return Ok(());
    }
    settle(&mut tx, &task).await?;
    tx.commit().await?;
    Ok(())
}

/// Rule 10: the user clears the task's error; it is idle again.
pub async fn clear_error(pool: &PgPool, task_id: Uuid) -> Result<Task> {
    let mut tx = pool.begin().await?;
    let task = task_rows::lock(&mut tx, task_id).await?.ok_or_else(|| Error::not_found("task", task_id))?;
    if task.agent_status != AgentStatus::Error {
        return Err(Error::conflict("the task is not in error"));
    }
    let task = task_rows::set_status(&mut tx, task_id, AgentStatus::Idle, None, None)
        .await?
        .ok_or_else(|| Error::not_found("task", task_id))?;
    task_rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    tx.commit().await?;
    Ok(task)
}

/// The task's hook executions, oldest first.
pub async fn executions(pool: &PgPool, task_id: Uuid) -> Result<Vec<HookExecution>> {
    let mut connection = pool.acquire().await?;
    super::tasks::existing(&mut connection, task_id).await?;
    Ok(executions::for_task(&mut connection, task_id).await?)
}

/// Queues a failed execution again, with what its failure skipped, if the task is still
/// in that stay; the task's error is cleared.
pub async fn retry(pool: &PgPool, execution_id: Uuid) -> Result<Vec<HookExecution>> {
    let mut tx = pool.begin().await?;
    let execution = executions::get(&mut tx, execution_id)
        .await?
        .ok_or_else(|| Error::not_found("hook execution", execution_id))?;
    let task = task_rows::lock(&mut tx, execution.task_id)
        .await?
        .ok_or_else(|| Error::not_found("task", execution.task_id))?;
    if execution.status != "failed" {
        return Err(Error::conflict(format!(
            "only a failed hook can be retried; this one is {}",
            execution.status
        )));
    }
    if executions::retried(&mut tx, execution_id).await? {
        return Err(Error::conflict("this hook was already run again; retry its latest execution"));
    }
    if execution.column_id != Some(task.column_id) || task_rows::hooks_active(&mut tx, task.id).await? {
        return Err(Error::conflict(
            "the task has left that column or is running other hooks; move it back into the column to run them again",
        ));
    }
    let queued = executions::requeue_failed(&mut tx, execution_id).await?;
    for execution in &queued {
        executions::publish(&mut tx, execution).await?;
    }
    if task.agent_status == AgentStatus::Error
        && let Some(task) = task_rows::set_status(&mut tx, task.id, AgentStatus::Idle, None, None).await?
    {
        task_rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    }
    tx.commit().await?;
    Ok(queued)
}

/// Cancels a pending execution.
pub async fn cancel(pool: &PgPool, execution_id: Uuid) -> Result<HookExecution> {
    let mut tx = pool.begin().await?;
    let found = executions::get(&mut tx, execution_id)
        .await?
        .ok_or_else(|| Error::not_found("hook execution", execution_id))?;
    let cancelled = executions::cancel_pending(&mut tx, execution_id).await?.ok_or_else(|| {
        Error::conflict(format!(
            "only a pending hook can be cancelled; this one is {} (move the task out of its column to stop a running one)",
            found.status
        ))
    })?;
    executions::publish(&mut tx, &cancelled).await?;
    let task = task_rows::lock(&mut tx, cancelled.task_id).await?;
    if let Some(task) = task {
        settle(&mut tx, &task).await?;
    }
    tx.commit().await?;
    Ok(cancelled)
}

/// Checks and records the tasks blocking `task_id` (D11): tasks of the same board, not
/// itself, closing no cycle.
pub(crate) async fn set_blockers(
    connection: &mut PgConnection,
    task: &Task,
    blockers: &[Uuid],
) -> Result<()> {
    let mut unique: Vec<Uuid> = blockers.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.contains(&task.id) {
        return Err(Error::invalid("blocked_by", "a task cannot block itself"));
    }
    if task_rows::count_on_board(connection, task.board_id, &unique).await? != unique.len() as i64 {
        return Err(Error::invalid(
            "blocked_by",
            "blocked_by: every blocker must be a task of the same board",
        ));
    }
    if task_rows::would_cycle(connection, task.id, &unique).await? {
        return Err(Error::invalid(
            "blocked_by",
            "blocked_by: that would make tasks wait for each other forever",
        ));
    }
    task_rows::set_blockers(connection, task.id, blockers).await?;
    Ok(())
}

/// The first `count` non-empty lines of a text.
fn first_lines(text: &str, count: usize) -> String {
    text.lines().filter(|line| !line.trim().is_empty()).take(count).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(execute_once: bool, transparent: bool) -> PlanInput {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = Uuid::from_u128(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed).into());
        PlanInput { id, execute_once, transparent }
    }

    #[test]
    fn an_entry_queues_every_hook_in_order() {
        let hooks = [attachment(false, false), attachment(false, true)];
        assert_eq!(plan(&hooks, true, false, &HashSet::new()), [Planned::Pending, Planned::Pending]);
    }

    #[test]
    fn execute_once_hooks_the_task_already_ran_are_dropped() {
        let hooks = [attachment(true, false), attachment(true, false)];
        let ran = HashSet::from([hooks[0].id]);
        assert_eq!(plan(&hooks, true, false, &ran), [Planned::Dropped, Planned::Pending]);
    }

    #[test]
    fn a_column_with_hooks_off_records_them_as_skipped_disabled() {
        let hooks = [attachment(false, false), attachment(false, true)];
        let planned = plan(&hooks, false, true, &HashSet::new());
        assert_eq!(planned, [Planned::Skipped("disabled"), Planned::Skipped("disabled")]);
    }

    #[test]
    fn a_task_in_error_runs_only_the_transparent_hooks() {
        let hooks = [attachment(false, false), attachment(false, true)];
        assert_eq!(plan(&hooks, true, true, &HashSet::new()), [Planned::Skipped("error"), Planned::Pending]);
    }

    #[test]
    fn a_failure_message_keeps_the_first_lines_that_say_something() {
        assert_eq!(first_lines("\nerror: one\n\n two\nthree\n", 2), "error: one\n two");
    }
}
