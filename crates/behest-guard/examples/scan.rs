//! `behest guard scan` as a stand-alone program, for the PII benchmark:
//! `scan [--jsonl] [--utf8-offsets] [--blocklist TERM]...` reads stdin, writes stdout.

use behest_guard::scan::{run, ScanOptions};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut options = ScanOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jsonl" => options.jsonl = true,
            "--utf8-offsets" | "--byte-offsets" => options.utf8_offsets = true,
            "--blocklist" => match args.next() {
                Some(term) => options.blocklist.push(term),
                None => {
                    eprintln!("--blocklist needs a term");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("unknown argument {other:?}; usage: scan [--jsonl] [--utf8-offsets] [--blocklist TERM]...");
                return ExitCode::from(2);
            }
        }
    }
    match run(std::io::stdin().lock(), std::io::stdout().lock(), &options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("scan: {err}");
            ExitCode::FAILURE
        }
    }
}
