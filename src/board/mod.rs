//! The domain: boards, columns, tasks, templates, hooks and repositories, with every
//! rule, limit and orchestration step in one place.

pub mod views;
