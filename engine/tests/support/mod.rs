//! Helpers shared by integration tests: a Schema Registry test server over real HTTP, and
//! definition-file loading and piping.
#![allow(dead_code)]

pub mod definitions;
pub mod registry_server;
