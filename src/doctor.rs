//! `viban doctor`: checks what viban needs on this machine and says how to fix each
//! problem. Errors make it exit 1; warnings (a missing agent CLI) do not.

use std::net::{Ipv4Addr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use crate::home::Home;
use crate::process::{self, Privilege};
use crate::{agents, instance, postgres};

enum Outcome {
    Ok(String),
    Warn(String, String),
    Fail(String, String),
}

pub fn run(home: &Home) -> ExitCode {
    let mut checks: Vec<(&str, Outcome)> = vec![
        ("home", check_home(home)),
        ("config", check_config(home)),
        ("postgres", check_postgres(home)),
        ("port", check_port(home)),
        ("git", check_tool("git", "install git (e.g. `apt install git` or `brew install git`)", true)),
        (
            "gh",
            check_tool("gh", "install the GitHub CLI to open pull requests: https://cli.github.com", false),
        ),
    ];
    for agent in agents::ADAPTERS {
        checks.push((
            agent.binary,
            check_tool(agent.binary, &format!("install with: {}", agent.install_hint), false),
        ));
    }
    let mut failed = false;
    for (name, outcome) in checks {
        match outcome {
            Outcome::Ok(detail) => println!("✓ {name:<13} {detail}"),
            Outcome::Warn(detail, fix) => println!("! {name:<13} {detail}\n  {:<13} fix: {fix}", ""),
            Outcome::Fail(detail, fix) => {
                failed = true;
                println!("✗ {name:<13} {detail}\n  {:<13} fix: {fix}", "");
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn check_home(home: &Home) -> Outcome {
    let probe = home.run_dir().join(".doctor-probe");
    let writable = home.prepare().is_ok() && std::fs::write(&probe, b"ok").is_ok();
    let _ = std::fs::remove_file(&probe);
    if writable {
        Outcome::Ok(format!("{} is writable", home.root().display()))
    } else {
        Outcome::Fail(
            format!("{} is not writable", home.root().display()),
            "fix its permissions, or choose another home with --home / VIBAN_HOME".into(),
        )
    }
}

fn check_config(home: &Home) -> Outcome {
    match crate::config::Config::load(home) {
        Ok(_) => Outcome::Ok(format!("{} is valid", home.config_file().display())),
        Err(error) => Outcome::Fail(error.to_string(), format!("edit {}", home.config_file().display())),
    }
}

fn check_postgres(home: &Home) -> Outcome {
    let extracted = home.pg_dir().join(postgres::version()).join("bin").join("postgres");
    let state = if extracted.is_file() { "extracted" } else { "extracted on first start" };
    let detail = format!("PostgreSQL {} bundled ({state})", postgres::version());
    if process::running_as_root() {
        // Exercise the same namespace switch PostgreSQL will need.
        let switched = process::command("true", Privilege::Unprivileged).status();
        return match switched {
            Ok(status) if status.success() => {
                Outcome::Ok(format!("{detail}; running as root, so it runs as `nobody` in a user namespace"))
            }
            Ok(status) => Outcome::Fail(detail, format!("the user-namespace test exited with {status}")),
            Err(error) => Outcome::Fail(detail, process::unprivileged_spawn_hint(&error)),
        };
    }
    Outcome::Ok(detail)
}

fn check_port(home: &Home) -> Outcome {
    if let Ok(Some(info)) = instance::running(home, Duration::from_secs(2)) {
        return Outcome::Ok(format!("viban is running at {} (pid {})", info.url, info.pid));
    }
    match TcpListener::bind((Ipv4Addr::LOCALHOST, 7777)) {
        Ok(_) => Outcome::Ok("port 7777 is free".into()),
        Err(_) => Outcome::Warn(
            "port 7777 is in use by another program".into(),
            "nothing to do: viban will use the next free port (or pass --port)".into(),
        ),
    }
}

fn check_tool(binary: &str, fix: &str, required: bool) -> Outcome {
    let Some(path) = process::find_program(binary) else {
        let detail = format!("`{binary}` not found on PATH or in the usual install folders");
        return if required { Outcome::Fail(detail, fix.into()) } else { Outcome::Warn(detail, fix.into()) };
    };
    let version = process::output_with_timeout(
        process::command(&path, Privilege::Inherit).arg("--version"),
        Duration::from_secs(10),
    )
    .ok()
    .map(|output| {
        String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().trim().to_string()
    })
    .filter(|line| !line.is_empty())
    .unwrap_or_else(|| "version unknown".into());
    Outcome::Ok(format!("{} ({version})", path.display()))
}
