//! viban: a local-first kanban board that runs AI coding agents on your own git
//! repositories. `main.rs` only calls [`cli::main`]; the modules below are the rest.
//!
//! Launcher and runtime: [`cli`], [`app`] (the serve lifecycle), [`config`], [`home`],
//! [`instance`], [`postgres`], [`db`], [`logging`], [`progress`], [`browser`],
//! [`shutdown`]. Server: [`server`] (router, security, assets, WebSocket), [`realtime`], [`api`]
//! (handlers), [`mcp`] (the MCP server), [`error`]. Shared: [`process`] (every child process), [`client`]
//! (loopback HTTP for the CLI), [`agents`], [`doctor`].

pub mod agents;
pub mod api;
pub mod app;
pub mod board;
pub mod browser;
pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod db;
pub mod diff;
pub mod disk;
pub mod doctor;
pub mod error;
pub mod filesystem;
pub mod gh;
pub mod git;
pub mod home;
pub mod hooks;
pub mod import;
pub mod instance;
pub mod limits;
pub mod logging;
pub mod mcp;
pub mod merge;
pub mod notify;
pub mod opener;
pub mod position;
pub mod postgres;
pub mod process;
pub mod progress;
pub mod realtime;
pub mod schema;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod state;
pub mod tray;
pub mod update;
pub mod upkeep;
pub mod worktree;
