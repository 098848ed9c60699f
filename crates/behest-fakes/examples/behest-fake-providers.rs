//! `cargo run -p behest-fakes --example behest-fake-providers -- [--listen ADDR]`: runs
//! the fake provider server until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use behest_fakes::FakeProviders;

const USAGE: &str = "usage: behest-fake-providers [--listen ADDR]   (default 127.0.0.1:0)";

fn parse_args() -> Result<SocketAddr, String> {
    let mut listen = String::from("127.0.0.1:0");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--listen" {
            listen = args.next().ok_or_else(|| USAGE.to_string())?;
        } else if let Some(value) = arg.strip_prefix("--listen=") {
            listen = value.to_string();
        } else if arg == "-h" || arg == "--help" {
            return Err(USAGE.to_string());
        } else {
            return Err(format!("unknown argument {arg:?}\n{USAGE}"));
        }
    }
    listen
        .parse()
        .map_err(|e| format!("bad --listen address {listen:?}: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match parse_args() {
        Ok(addr) => addr,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let fakes = match FakeProviders::bind(addr).await {
        Ok(fakes) => fakes,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "listening on {}", fakes.origin())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
