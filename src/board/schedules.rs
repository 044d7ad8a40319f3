//! Periodic tasks (H4): a board's schedules, each a cron expression in UTC with the
//! task it makes. When one comes due, [`fire_due`] creates `#<n> <title>` in the
//! board's `todo` column with `auto_start`, through the same function as
//! `POST /api/boards/{id}/tasks` (so the column's hooks run and start the agent) — or
//! skips the time, and says why, while the task it made last is still in an
//! `in_progress` column. Either way the next due time follows from the cron
//! expression. The due schedule is claimed with `FOR UPDATE SKIP LOCKED`, and the task,
//! the counter and the next due time commit together, so two viban processes on one
//! database create it once. `docs/schedules.md` describes it for users.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::tasks::TaskRequest;
use super::{Error, Result, bounded_text, nullable_text, required_text};
use crate::db::boards::ColumnRole;
use crate::db::schedules::{self as rows, Schedule, ScheduleFields};
use crate::limits::{CRON_MAX, NAME_MAX, SCHEDULE_TITLE_MAX, SCHEDULES_PER_BOARD_MAX, TEXT_MAX};

/// A schedule as asked for (`POST /api/boards/{id}/schedules`, `PATCH
/// /api/schedules/{id}`): absent fields stay when editing.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ScheduleBody")]
pub struct ScheduleRequest {
    /// Five fields in UTC — minute hour day-of-month month day-of-week, e.g.
    /// `0 9 * * 1-5` — or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.
    /// Required when creating.
    #[schemars(length(min = 1, max = CRON_MAX))]
    pub cron: Option<String>,
    /// Required when creating; its tasks are titled `#<n> <title>`.
    #[schemars(length(min = 1, max = SCHEDULE_TITLE_MAX), regex(pattern = r"\S"))]
    pub title: Option<String>,
    #[schemars(length(max = TEXT_MAX))]
    pub description: Option<String>,
    /// The agent its tasks run (an agent id or `custom:<name>`); null: the board's default.
    #[serde(default, deserialize_with = "crate::schema::present")]
    #[schemars(length(min = 1, max = NAME_MAX))]
    pub agent: Option<Option<String>>,
    /// Default true.
    pub enabled: Option<bool>,
}

pub async fn list(pool: &PgPool, board_id: Uuid) -> Result<Vec<Schedule>> {
    let mut connection = pool.acquire().await?;
    super::boards::existing(&mut connection, board_id).await?;
    Ok(rows::list(&mut connection, board_id).await?)
}

pub async fn create(pool: &PgPool, board_id: Uuid, request: ScheduleRequest) -> Result<Schedule> {
    let cron = request.cron.as_deref().ok_or_else(|| Error::invalid("cron", "cron is required"))?;
    let title = request.title.as_deref().ok_or_else(|| Error::invalid("title", "title is required"))?;
    let cron = checked_cron(cron)?;
    let enabled = request.enabled.unwrap_or(true);
    let fields = ScheduleFields {
        title: required_text("title", title, SCHEDULE_TITLE_MAX)?,
        description: bounded_text(
            "description",
            request.description.as_deref().unwrap_or_default(),
            TEXT_MAX,
        )?,
        agent: nullable_text("agent", request.agent, NAME_MAX)?.flatten(),
        enabled,
        next_run_at: if enabled { Some(next_after(&cron.1, OffsetDateTime::now_utc())?) } else { None },
        cron: cron.0,
    };
    let mut tx = pool.begin().await?;
    if !crate::db::columns::lock_board(&mut tx, board_id).await? {
        return Err(Error::not_found("board", board_id));
    }
    if rows::count(&mut tx, board_id).await? >= SCHEDULES_PER_BOARD_MAX {
        return Err(Error::conflict(format!("a board has at most {SCHEDULES_PER_BOARD_MAX} schedules")));
    }
    let schedule = rows::insert(&mut tx, board_id, &fields).await?;
    tx.commit().await?;
    Ok(schedule)
}

/// Changes a schedule. A new cron expression, or enabling it, sets the next due time
/// from now; disabling clears it.
pub async fn update(pool: &PgPool, id: Uuid, request: ScheduleRequest) -> Result<Schedule> {
    let new_cron = request.cron.as_deref().map(checked_cron).transpose()?;
    let title = request
        .title
        .as_deref()
        .map(|title| required_text("title", title, SCHEDULE_TITLE_MAX))
        .transpose()?;
    let description =
        request.description.as_deref().map(|text| bounded_text("description", text, TEXT_MAX)).transpose()?;
    let agent = nullable_text("agent", request.agent, NAME_MAX)?;
    let mut tx = pool.begin().await?;
    let current = rows::lock(&mut tx, id).await?.ok_or_else(|| Error::not_found("schedule", id))?;
    let enabled = request.enabled.unwrap_or(current.enabled);
    let next_run_at = match (&new_cron, enabled) {
        (_, false) => None,
        (Some((_, cron)), true) => Some(next_after(cron, OffsetDateTime::now_utc())?),
        (None, true) if !current.enabled || current.next_run_at.is_none() => {
            Some(next_after(&checked_cron(&current.cron)?.1, OffsetDateTime::now_utc())?)
        }
        (None, true) => current.next_run_at.map(|at| *at),
    };
    let fields = ScheduleFields {
        cron: new_cron.map_or(current.cron, |(text, _)| text),
        title: title.unwrap_or(current.title),
        description: description.unwrap_or(current.description),
        agent: agent.unwrap_or(current.agent),
        enabled,
        next_run_at,
    };
    let schedule = rows::update(&mut tx, id, &fields).await?;
    tx.commit().await?;
    Ok(schedule)
}

pub async fn delete(pool: &PgPool, id: Uuid) -> Result<()> {
    let mut connection = pool.acquire().await?;
    if !rows::delete(&mut connection, id).await? {
        return Err(Error::not_found("schedule", id));
    }
    Ok(())
}

/// What one due schedule came to.
#[derive(Debug)]
pub enum Fired {
    Created { schedule_id: Uuid, task_id: Uuid },
    Skipped { schedule_id: Uuid, reason: String },
}

/// Fires every schedule that is due, one claim at a time; returns what each came to.
pub async fn fire_due(pool: &PgPool) -> Result<Vec<Fired>> {
    let mut fired = Vec::new();
    while let Some(outcome) = crate::db::retrying(|| fire_one(pool)).await? {
        fired.push(outcome);
    }
    Ok(fired)
}

/// Claims the schedule due longest and fires it, in one transaction; `None` when
/// nothing is due (or what is due is being fired by another process).
async fn fire_one(pool: &PgPool) -> Result<Option<Fired>> {
    let mut tx = pool.begin().await?;
    let Some(schedule) = rows::claim_due(&mut tx).await? else { return Ok(None) };
    let next = match checked_cron(&schedule.cron) {
        Ok((_, cron)) => next_after(&cron, OffsetDateTime::now_utc()).ok(),
        Err(_) => None,
    };
    if let Some(reason) = busy(&mut tx, &schedule).await? {
        rows::record_skip(&mut tx, schedule.id, &reason, next).await?;
        tx.commit().await?;
        tracing::info!(schedule_id = %schedule.id, "a schedule skipped its time: {reason}");
        return Ok(Some(Fired::Skipped { schedule_id: schedule.id, reason }));
    }
    let todo = crate::db::tasks::column_with_role(&mut tx, schedule.board_id, ColumnRole::Todo).await?;
    let request = TaskRequest {
        title: format!("#{} {}", schedule.runs + 1, schedule.title),
        description: schedule.description.clone(),
        column_id: todo,
        auto_start: true,
        agent: schedule.agent.clone(),
        ..TaskRequest::default()
    };
    let task = match super::tasks::create_in(&mut tx, schedule.board_id, &request).await {
        Ok(task) => task,
        Err(error @ Error::Database(_)) => return Err(error),
        Err(refused) => {
            // What the board refuses now (a limit) it would refuse every time: said, and
            // tried again at the next due time.
            drop(tx);
            let reason = format!("the task could not be created: {refused}");
            let mut tx = pool.begin().await?;
            rows::record_skip(&mut tx, schedule.id, &reason, next).await?;
            tx.commit().await?;
            return Ok(Some(Fired::Skipped { schedule_id: schedule.id, reason }));
        }
    };
    rows::record_run(&mut tx, schedule.id, task.id, next).await?;
    tx.commit().await?;
    tracing::info!(schedule_id = %schedule.id, task_id = %task.id, "a schedule created task #{}", task.number);
    Ok(Some(Fired::Created { schedule_id: schedule.id, task_id: task.id }))
}

/// Why the schedule may not create a task now: the one it created last is still in
/// an `in_progress` column.
async fn busy(connection: &mut PgConnection, schedule: &Schedule) -> Result<Option<String>> {
    let Some(last) = schedule.last_task_id else { return Ok(None) };
    Ok(match rows::role_of_task(connection, last).await? {
        Some(ColumnRole::InProgress) => Some(format!(
            "the task it created last (#{} {}) is still in progress",
            schedule.runs, schedule.title
        )),
        _ => None,
    })
}

/// The expression, trimmed, and its parsed form; a 422 on `cron` in croner's words.
fn checked_cron(text: &str) -> Result<(String, Cron)> {
    let text = required_text("cron", text, CRON_MAX)?;
    let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
    let cron = parser.parse(&text).map_err(|error| {
        Error::invalid(
            "cron",
            format!(
                "cron: {error} Write five fields in UTC — minute hour day-of-month month day-of-week — \
                 e.g. `0 9 * * 1-5` (09:00 UTC on weekdays) or `@daily`"
            ),
        )
    })?;
    Ok((text, cron))
}

/// The first due time of `cron` strictly after `after`.
fn next_after(cron: &Cron, after: OffsetDateTime) -> Result<OffsetDateTime> {
    let start = DateTime::<Utc>::from_timestamp(after.unix_timestamp(), 0).unwrap_or_default();
    let next = cron.find_next_occurrence(&start, false).map_err(|error| {
        Error::invalid(
            "cron",
            format!("cron: the expression never comes due ({error}); check its day and month"),
        )
    })?;
    OffsetDateTime::from_unix_timestamp(next.timestamp())
        .map_err(|_| Error::invalid("cron", "cron: its next due time is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn the_next_due_time_is_computed_in_utc() {
        let (_, weekdays) = checked_cron("0 9 * * 1-5").unwrap();
        // 2026-12-25 is a Friday: the next is Monday the 28th at 09:00 UTC.
        assert_eq!(next_after(&weekdays, at("2026-12-25T10:00:00Z")).unwrap(), at("2026-12-28T09:00:00Z"));
        let (_, hourly) = checked_cron("@hourly").unwrap();
        assert_eq!(next_after(&hourly, at("2026-12-25T10:00:00Z")).unwrap(), at("2026-12-25T11:00:00Z"));
    }

    #[test]
    fn an_invalid_expression_is_refused_on_the_cron_field_in_croners_words() {
        for text in ["", "61 * * * *", "* * *", "0 0 * * * *", "every day"] {
            match checked_cron(text) {
                Err(Error::Invalid { field: Some(field), message }) => {
                    assert_eq!(field, "cron", "{text}");
                    assert!(message.starts_with("cron"), "{message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
