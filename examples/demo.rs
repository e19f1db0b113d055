//! `demo`: the seed's demo client, growing into an `ssh`-like program.
//!
//! What it does today:
//!
//! ```text
//! cargo run --example demo -- -Q kex          # key exchange methods
//! cargo run --example demo -- -Q cipher       # ciphers
//! cargo run --example demo -- -Q mac          # MACs
//! cargo run --example demo -- -Q key          # key types
//! cargo run --example demo -- -Q sig          # signature algorithms
//! cargo run --example demo -- -Q compression  # compression methods
//! ```
//!
//! Like `ssh -Q`, each prints one name per line: the ones sekura offers by
//! default first, in preference order, then the legacy ones a caller has to
//! ask for by name. Connecting to a host arrives with the transport.

use sekura::algorithms::builtin;
use sekura::algorithms::{Algorithm, SignatureAlgorithm};
use std::process::ExitCode;

/// Every name of one category: defaults first, then the rest of `all`.
fn listing<T: Algorithm + ?Sized>(defaults: &[&T], all: &[&T]) -> Vec<String> {
    let mut names: Vec<String> = defaults.iter().map(|a| a.name().to_owned()).collect();
    for alg in all {
        if !names.iter().any(|n| n == alg.name()) {
            names.push(alg.name().to_owned());
        }
    }
    names
}

/// Key types: the key formats behind the signature algorithms, each once.
fn key_types(algorithms: &[&dyn SignatureAlgorithm]) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for alg in algorithms {
        if !types.iter().any(|t| t == alg.key_type()) {
            types.push(alg.key_type().to_owned());
        }
    }
    types
}

fn query(kind: &str) -> Option<Vec<String>> {
    Some(match kind {
        "kex" => listing(builtin::DEFAULT_KEX, builtin::ALL_KEX),
        "cipher" => listing(builtin::DEFAULT_CIPHERS, builtin::ALL_CIPHERS),
        "mac" => listing(builtin::DEFAULT_MACS, builtin::ALL_MACS),
        "sig" | "HostKeyAlgorithms" => listing(builtin::DEFAULT_HOST_KEY, builtin::ALL_HOST_KEY),
        "key" => {
            let mut all: Vec<&dyn SignatureAlgorithm> = builtin::DEFAULT_HOST_KEY.to_vec();
            all.extend_from_slice(builtin::ALL_HOST_KEY);
            key_types(&all)
        }
        "compression" => listing(builtin::DEFAULT_COMPRESSION, builtin::ALL_COMPRESSION),
        _ => return None,
    })
}

const USAGE: &str = "usage: demo -Q kex|cipher|mac|key|sig|compression";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, kind] if flag == "-Q" => match query(kind) {
            Some(names) => {
                for name in names {
                    println!("{name}");
                }
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("demo: unsupported query {kind:?}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("{USAGE}\n(connecting to a host arrives with the transport)");
            ExitCode::from(2)
        }
    }
}
