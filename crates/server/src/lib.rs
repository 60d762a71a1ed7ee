//! The `onrecord` binary's library: configuration, data dir, keyring, the commands, and (with
//! later work) the servers. Protocol logic lives in the sans-IO crates; this crate is the edge
//! where files, sockets and the clock are.

pub mod app;
pub mod bench;
pub mod bench_api;
pub mod bench_erase;
pub mod cli;
pub mod completeness;
pub mod config;
pub mod datadir;
pub mod demo;
pub mod demo_live;
pub mod governance;
pub mod http;
pub mod import;
pub mod keyring;
pub mod live;
pub mod nodekey;
pub mod readback;
pub mod recording_client;
pub mod synth;
pub mod tenants;
pub mod transcription;
