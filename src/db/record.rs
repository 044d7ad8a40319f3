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

fn select<T: Record>(filter: &'static str, key: Uuid) -> QueryAs<'static, Postgres, T, PgArguments> {
    // The same text each time, so the connection's prepared statement is reused.
    sqlx::query_as(AssertSqlSafe(format!("{} WHERE {filter}", T::SELECT))).bind(key)
}

/// `record!(Task, task_fields, "tasks")`: the row type `Task` is read with the columns
/// `task_fields!()` names, from the table `tasks`.
macro_rules! record {
    ($type:ty, $fields:ident, $table:literal) => {
        impl $crate::db::record::Record for $type {
            const SELECT: &'static str = concat!("SELECT ", $fields!(), " FROM ", $table);
        }
    };
}
pub(crate) use record;
