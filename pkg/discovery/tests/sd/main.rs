#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test
//! Integration tests of every discovery mechanism against peers the tests start: temp files,
//! an HTTP SD server, a DNS server, a fake Kubernetes API server and a fake Consul agent, all
//! on 127.0.0.1 free ports.

mod common;
mod consul_sd;
mod dns_sd;
mod file_sd;
mod http_sd;
mod k8s_fake;
mod kubernetes_sd;
mod manager;
