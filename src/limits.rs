//! Every size limit of the domain, once. The domain (`board`) checks requests against
//! them; the request types' schema attributes cite them (some of those types are `db`'s
//! own, which is why the limits sit here, below both); and where the schema has a
//! `CHECK` for the same limit the test below reads the migration and fails if the two
//! disagree.

/// A board's name (`boards.name` CHECK).
pub const BOARD_NAME_MAX: usize = 200;
pub const BOARD_DESCRIPTION_MAX: usize = 20_000;
/// A column's name (`columns.name` CHECK).
pub const COLUMN_NAME_MAX: usize = 100;
/// A task's title (`tasks.title` CHECK), also a template's title.
pub const TITLE_MAX: usize = 500;
/// A task's or a template's description, a hook's command or prompt, a chat message.
pub const TEXT_MAX: usize = 100_000;
/// An agent id, a model, a branch name.
pub const NAME_MAX: usize = 200;
/// A template's name (`templates.name` CHECK).
pub const TEMPLATE_NAME_MAX: usize = 100;
/// A hook's name (`hooks.name` CHECK).
pub const HOOK_NAME_MAX: usize = 100;
/// A script hook's timeout when none is given.
pub const HOOK_TIMEOUT_DEFAULT: i32 = 600;
/// A script hook's longest timeout: a day.
pub const HOOK_TIMEOUT_MAX: i32 = 86_400;
/// A filesystem path or a clone URL.
pub const PATH_MAX: usize = 4096;
/// Activity entries in one page, and the page size when none is asked.
pub const ACTIVITY_PAGE_MAX: i64 = 500;
pub const ACTIVITY_PAGE_DEFAULT: i64 = 100;
/// A task's diff (`docs/review.md`): a file with more changed lines (additions plus
/// deletions) or a larger patch is summarized, counts only…
pub const DIFF_FILE_LINES_MAX: u64 = 3_000;
pub const DIFF_FILE_BYTES_MAX: u64 = 512 * 1024;
/// …and hunks stop once the files shown reach these totals.
pub const DIFF_TOTAL_LINES_MAX: u64 = 30_000;
pub const DIFF_TOTAL_BYTES_MAX: u64 = 8 * 1024 * 1024;
/// One file asked for by itself (`?file=`) is shown whole up to these.
pub const DIFF_FULL_FILE_LINES_MAX: u64 = 100_000;
pub const DIFF_FULL_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// A review comment's text (`review_comments.body` CHECK).
pub const REVIEW_COMMENT_MAX: usize = 20_000;
/// The lines of code a review comment quotes in its message; longer ranges are cut.
pub const REVIEW_QUOTE_LINES_MAX: usize = 40;
/// A merge's commit message.
pub const COMMIT_MESSAGE_MAX: usize = 20_000;
/// A pull request's title (GitHub refuses longer ones).
pub const PR_TITLE_MAX: usize = 256;
/// A pull request's body (GitHub's limit is 65,536 characters).
pub const PR_BODY_MAX: usize = 60_000;
/// A webhook's URL (`webhooks.url` CHECK).
pub const WEBHOOK_URL_MAX: usize = 2000;
/// Webhooks on one board.
pub const WEBHOOKS_PER_BOARD_MAX: i64 = 20;
/// A schedule's title (`schedules.title` CHECK): room is left for the `#<n> ` its
/// tasks' titles start with.
pub const SCHEDULE_TITLE_MAX: usize = 480;
/// A schedule's cron expression (`schedules.cron` CHECK).
pub const CRON_MAX: usize = 200;
/// Schedules on one board.
pub const SCHEDULES_PER_BOARD_MAX: i64 = 50;

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL of every migration, concatenated.
    fn schema() -> String {
        crate::db::MIGRATOR.iter().map(|migration| migration.sql.as_str().to_string()).collect()
    }

    #[test]
    fn the_schema_checks_the_same_limits_as_the_domain() {
        let schema = schema();
        for (column, max) in [
            ("boards.name", BOARD_NAME_MAX),
            ("columns.name", COLUMN_NAME_MAX),
            ("tasks.title", TITLE_MAX),
            ("templates.name", TEMPLATE_NAME_MAX),
            ("hooks.name", HOOK_NAME_MAX),
            ("review_comments.body", REVIEW_COMMENT_MAX),
            ("webhooks.url", WEBHOOK_URL_MAX),
            ("schedules.title", SCHEDULE_TITLE_MAX),
            ("schedules.cron", CRON_MAX),
        ] {
            let (table, field) = column.split_once('.').unwrap_or_default();
            let create = schema
                .split(&format!("CREATE TABLE {table} ("))
                .nth(1)
                .and_then(|rest| rest.split(";\n").next())
                .unwrap_or_default();
            let check = format!("CHECK (length({field}) BETWEEN 1 AND {max})");
            assert!(create.contains(&check), "{column}: the schema should say {check}");
        }
    }
}
