fn main() -> std::process::ExitCode {
    viban::cli::main()
}
