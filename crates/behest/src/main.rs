//! `behest`: the gateway's one binary. `serve` runs the control plane and data plane on
//! one port; `migrate` applies the store's migrations; `keys rotate` adds a platform
//! signing key.

mod config;
mod demo;
mod ledger;
mod memory;
mod metrics;
mod outcomes;
mod playground;
mod secrets;
mod serve;
mod traces;
mod usage;

use clap::{Parser, Subcommand};
use config::{ServeArgs, StoreArgs};
use std::process::ExitCode;

/// A gateway allocates many small, short-lived buffers per request (JSON trees, header
/// maps); mimalloc serves those markedly faster than glibc's allocator (see bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "behest",
    version,
    about = "Behest: the LLM gateway your users' browsers can call directly."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (control plane, data plane) until SIGTERM/SIGINT.
    Serve(Box<ServeArgs>),
    /// Apply pending store migrations and exit.
    Migrate(StoreArgs),
    /// Manage the platform's token signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Try the content guard and the PII detector offline.
    Guard {
        #[command(subcommand)]
        action: GuardCommand,
    },
}

#[derive(Subcommand)]
enum GuardCommand {
    /// Reads text on stdin and prints every PII detection (`{"entity","start","end","score"}`)
    /// and every sentinel rule hit as JSON lines, with exactly the gateway's detectors.
    Scan {
        /// Read `{"id","text"}` per line; print `{"id","detections":[...],"sentinel":[...]}` per line.
        #[arg(long)]
        jsonl: bool,
        /// Offsets as Unicode code points (the default, as Presidio's) or UTF-8 bytes.
        #[arg(long, value_parser = ["codepoints", "utf8"], default_value = "codepoints")]
        offsets: String,
        /// A blocklist term, as `sentinel_blocklist` holds them (repeatable).
        #[arg(long = "blocklist")]
        blocklist: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key. The previous key stays published in the JWKS until every
    /// token it signed has expired; running servers switch within their reload interval.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        master: config::MasterKeyArgs,
    },
    /// Make a new master key current and re-seal every secret at rest under it (with
    /// `BEHEST_MASTER_KEY`: re-seal under that key what `BEHEST_PREVIOUS_MASTER_KEYS`
    /// sealed).
    RotateMaster {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        master: config::MasterKeyArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("behest: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The command runs as a task on the runtime's workers, not on this thread: with
    // `block_on` alone the accept loop would live here and every connection on a
    // worker, and each I/O event would cost a cross-thread wake-up.
    let outcome = runtime.block_on(async {
        let command = tokio::spawn(async move {
            match cli.command {
                Command::Serve(args) => serve::run(*args).await,
                Command::Migrate(args) => serve::migrate(args).await,
                Command::Keys {
                    action: KeysCommand::Rotate { store, master },
                } => serve::rotate_keys(store, master).await,
                Command::Keys {
                    action: KeysCommand::RotateMaster { store, master },
                } => serve::rotate_master(store, master).await,
                Command::Guard {
                    action:
                        GuardCommand::Scan {
                            jsonl,
                            offsets,
                            blocklist,
                        },
                } => {
                    let options = behest_guard::scan::ScanOptions {
                        jsonl,
                        utf8_offsets: offsets == "utf8",
                        blocklist,
                    };
                    tokio::task::spawn_blocking(move || {
                        behest_guard::scan::run(
                            std::io::stdin().lock(),
                            std::io::stdout().lock(),
                            &options,
                        )
                    })
                    .await
                    .map_err(anyhow::Error::from)
                    .and_then(|r| r.map_err(anyhow::Error::from))
                }
            }
        });
        command
            .await
            .unwrap_or_else(|err| Err(anyhow::anyhow!("the server task failed: {err}")))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One clear line; the chain says what failed and why.
            eprintln!("behest: {err:#}");
            ExitCode::FAILURE
        }
    }
}
