//! The GitHub workflows (CI and release) are valid against GitHub's workflow schema,
//! checked offline with check-jsonschema (from PyPI; scripts/test.sh installs it and
//! names it in VIBAN_TEST_CHECK_JSONSCHEMA).

use std::path::Path;
use std::process::{Command, Output};

fn check(files: &[&Path]) -> Output {
    let program = std::env::var("VIBAN_TEST_CHECK_JSONSCHEMA")
        .expect("VIBAN_TEST_CHECK_JSONSCHEMA must name check-jsonschema; scripts/test.sh installs it");
    Command::new(program).args(["--builtin-schema", "vendor.github-workflows"]).args(files).output().unwrap()
}

#[test]
fn the_ci_and_release_workflows_match_githubs_schema() {
    let workflows = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let output = check(&[&workflows.join("ci.yml"), &workflows.join("release.yml")]);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_schema_check_catches_a_broken_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "name: broken\non: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    stepz: []\n",
    )
    .unwrap();
    assert!(!check(&[&broken]).status.success());
}
