//! Helpers shared by integration tests: a Schema Registry test server over real HTTP.
#![allow(dead_code)]

pub mod registry_server;
