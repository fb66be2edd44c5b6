//! `standby console`: expressions evaluated in the root module of an environment, against
//! the values a plan of it computes (variables, locals, resources, module outputs).

use super::values::{NodeScope, Values};
use super::walk::{plan_with_values, PlanOptions};
use crate::addr::ModuleInstance;
use crate::config::Config;
use crate::diag::{Diagnostic, Diagnostics, Sources, Span};
use crate::eval::{Evaluator, Iteration, Phase};
use crate::registry::Registry;
use crate::state::State;
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

/// An environment's evaluated topology, ready to answer expressions.
pub struct Console<'a> {
    config: &'a Config,
    values: Values,
    env: String,
    sources: Sources,
}

impl<'a> Console<'a> {
    /// Plans the environment (as `opts` says, normally without refresh) and keeps its values.
    pub async fn new(
        config: &'a Config,
        registry: &Registry,
        state: Option<&State>,
        root_vars: BTreeMap<String, Value>,
        opts: &PlanOptions,
    ) -> Result<Console<'a>, Diagnostics> {
        let (_, values) = plan_with_values(config, registry, state, root_vars, opts).await?;
        Ok(Console {
            config,
            values,
            env: opts.env.clone(),
            sources: config.sources.clone(),
        })
    }

    /// Evaluates one expression in the root module. Errors point into `<console-input>`.
    pub fn eval(&mut self, input: &str) -> Result<Value, Diagnostics> {
        let file = self
            .sources
            .add("<console-input>".into(), input.to_string());
        let expr = hcl_edit::parser::parse_expr(input).map_err(|e| {
            // Point where the parser stopped (the end of `1 +`, say), not at the start.
            let at = e.location().offset().min(input.len().saturating_sub(1));
            Diagnostics(vec![Diagnostic::at(
                Span::new(file, Some(at..(at + 1).min(input.len()))),
                "Invalid expression",
                e.message().to_string(),
            )])
        })?;
        let root = ModuleInstance::root();
        let scope = NodeScope::new(
            &self.values,
            self.config,
            &root,
            &self.config.root,
            &self.env,
            // The console is not a plan: timestamp(), uuid() and bcrypt() give their value now,
            // as in Terraform's console.
            Phase::Apply,
        );
        Evaluator::new(&scope, file, Iteration::default())
            .eval(&expr)
            .map_err(|e| Diagnostics(vec![e.into()]))
    }

    /// The topology's files and every input evaluated so far, for rendering errors.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }
}
