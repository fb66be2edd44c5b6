//! The integration tests, one test binary: `standby` driven the way a user drives it, the
//! engine with mock providers, real servers started on loopback, and the tidy checks of the
//! source tree. One binary links once; `cargo test --test it MODULE::` runs one file.

mod support;

mod bad_input;
mod check;
mod checkov;
mod ci_recipes;
mod cli;
mod drills;
mod election;
mod engine;
mod expr_oracle;
mod expressions;
mod failover;
mod failpoints;
mod fault_matrix;
mod git;
mod health;
mod leak;
mod monitor;
mod moved_import;
mod pg_backend;
mod pg_hostile;
mod pg_truth;
mod plugins;
mod plugins_v6;
mod postgres;
mod readme;
mod readme_postgres;
mod safety;
mod sigkill_switch;
mod switch;
mod switch_truth;
mod terraform_cli;
mod tidy;
mod traffic;
