//! Builds the web UI (`assets/web`) when its sources changed, and embeds its `dist/`
//! in the binary as a static table with gzip copies made here, once, at build time.
//!
//! "Changed" is a hash of the sources stamped into `dist/.source-hash`, so `cargo
//! clean`, a new profile or a clippy run does not rebuild an unchanged UI, and a build
//! with an up-to-date `dist/` needs no Node.js at all.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::Hasher;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// What the web build reads; a change to any of these rebuilds it.
const WEB_SOURCES: &[&str] = &[
    "index.html",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "vite.config.ts",
    "svelte.config.js",
    "openapi.json",
    "src",
    "public",
];

const STAMP: &str = ".source-hash";

fn main() {
    let web = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("assets/web");
    for source in WEB_SOURCES {
        println!("cargo:rerun-if-changed={}", web.join(source).display());
    }
    let dist = web.join("dist");
    println!("cargo:rerun-if-changed={}", dist.join(STAMP).display());

    let hash = format!("{:016x}", hash_sources(&web));
    let stamped = fs::read_to_string(dist.join(STAMP)).unwrap_or_default();
    if stamped.trim() != hash || !dist.join("index.html").is_file() {
        build_web(&web);
        fs::write(dist.join(STAMP), &hash).expect("write the web build stamp");
    }

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    embed(&dist, &out);
}

fn hash_sources(web: &Path) -> u64 {
    let mut files = Vec::new();
    for source in WEB_SOURCES {
        collect_files(&web.join(source), &mut files);
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        hasher.write(file.strip_prefix(web).unwrap_or(&file).to_string_lossy().as_bytes());
        hasher.write(&fs::read(&file).unwrap_or_default());
    }
    hasher.finish()
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_file() {
        files.push(path.to_path_buf());
    } else if let Ok(entries) = fs::read_dir(path) {
        for entry in entries.flatten() {
            collect_files(&entry.path(), files);
        }
    }
}

fn build_web(web: &Path) {
    if !web.join("node_modules/.package-lock.json").is_file() {
        // Not `npm ci`: see scripts/setup.sh.
        run_npm(web, &["install", "--no-save", "--no-audit", "--no-fund"]);
    }
    run_npm(web, &["run", "build"]);
}

fn run_npm(web: &Path, args: &[&str]) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let status = Command::new(npm).args(args).current_dir(web).status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`npm {}` in assets/web failed ({status}); fix the web sources or run `npm install` there",
            args.join(" ")
        ),
        Err(error) => panic!(
            "the web UI sources changed and need rebuilding, but npm could not be run ({error}); \
             install Node.js 20 or newer (scripts/setup.sh does) and build again"
        ),
    }
}

/// Writes `$OUT_DIR/assets.rs`: one `Asset` per file of `dist/`.
fn embed(dist: &Path, out: &Path) {
    let mut files = Vec::new();
    collect_files(dist, &mut files);
    files.sort();
    let gz_dir = out.join("web-gz");
    fs::create_dir_all(&gz_dir).expect("create the gzip output folder");

    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    for (index, file) in files.iter().enumerate() {
        let relative = file.strip_prefix(dist).expect("file under dist");
        let url_path = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
        if url_path == format!("/{STAMP}") {
            continue;
        }
        let body = fs::read(file).expect("read a built web asset");
        let content_type = content_type(&url_path);
        let gzip = compressible(content_type)
            .then(|| gzip(&body))
            .filter(|compressed| compressed.len() < body.len())
            .map(|compressed| {
                let path = gz_dir.join(format!("{index}.gz"));
                fs::write(&path, compressed).expect("write a gzip copy");
                format!("Some(include_bytes!({:?}))", path.display().to_string())
            })
            .unwrap_or_else(|| "None".to_string());
        writeln!(
            table,
            "    Asset {{ path: {url_path:?}, content_type: {content_type:?}, \
             body: include_bytes!({:?}), gzip: {gzip} }},",
            file.display().to_string()
        )
        .expect("write to a String");
    }
    table.push_str("];\n");
    fs::write(out.join("assets.rs"), table).expect("write assets.rs");
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/") || content_type.contains("json") || content_type.contains("svg")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}
