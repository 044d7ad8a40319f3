//! Rows read whole, for every row type that says where it lives ([`Record`]): one
//! query builder instead of the same `SELECT <columns> FROM <table> WHERE …` written
//! out per table and per key.
//!
//! The filters are `'static` SQL written in `db`, never text from a request: a filter
//! binds its one key as `$1`.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres};
use uuid::Uuid;

/// A row type read with one column list from one table.
pub trait Record: for<'r> FromRow<'r, PgRow> + Send + Unpin {
    /// `SELECT <its columns> FROM <its table>`.
    const SELECT: &'static str;
}

/// A row type whose rows belong to a board (a `board_id` column).
pub trait OnBoard: Record {
    /// `DELETE FROM <its table> WHERE id = $1 RETURNING board_id`.
    const DELETE: &'static str;
    /// `SELECT count(*) FROM <its table> WHERE board_id = $1`.
    const COUNT: &'static str;
}

/// The row where `filter` holds (`"id = $1 FOR UPDATE"`), if any.
pub async fn one<T: Record>(
    connection: &mut PgConnection,
    filter: &'static str,
    key: Uuid,
) -> Result<Option<T>, sqlx::Error> {
    select(filter, key).fetch_optional(connection).await
}

/// The rows where `filter` holds, in its `ORDER BY`.
pub async fn all<T: Record>(
    connection: &mut PgConnection,
    filter: &'static str,
    key: Uuid,
) -> Result<Vec<T>, sqlx::Error> {
    select(filter, key).fetch_all(connection).await
}

/// Deletes the row with `id`; the board it was on, if there was such a row.
pub async fn delete_on_board<T: OnBoard>(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(T::DELETE).bind(id).fetch_optional(connection).await
}

/// How many rows of its kind the board has.
pub async fn count_on_board<T: OnBoard>(
    connection: &mut PgConnection,
    board_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(T::COUNT).bind(board_id).fetch_one(connection).await
}

fn select<T: Record>(filter: &'static str, key: Uuid) -> QueryAs<'static, Postgres, T, PgArguments> {
    // The same text each time, so the connection's prepared statement is reused.
    sqlx::query_as(AssertSqlSafe(format!("{} WHERE {filter}", T::SELECT))).bind(key)
}

/// `record!(Task, task_fields, "tasks")`: the row type `Task` is read with the columns
/// `task_fields!()` names, from the table `tasks`; `record!(…, on_board)` says its rows
/// belong to a board.
macro_rules! record {
    ($type:ty, $fields:ident, $table:literal) => {
        impl $crate::db::record::Record for $type {
            const SELECT: &'static str = concat!("SELECT ", $fields!(), " FROM ", $table);
        }
    };
    ($type:ty, $fields:ident, $table:literal, on_board) => {
        $crate::db::record::record!($type, $fields, $table);
        impl $crate::db::record::OnBoard for $type {
            const DELETE: &'static str = concat!("DELETE FROM ", $table, " WHERE id = $1 RETURNING board_id");
            const COUNT: &'static str = concat!("SELECT count(*) FROM ", $table, " WHERE board_id = $1");
        }
    };
}
pub(crate) use record;
