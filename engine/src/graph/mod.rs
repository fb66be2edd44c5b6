//! A directed acyclic graph of opaque nodes. It knows nothing of resources or failover: callers
//! give it nodes and "depends on" edges, and get back an order, cycles, or a drawing.

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::fmt::Write as _;

/// A node's index in a [`Dag`].
pub type NodeId = NodeIndex<u32>;

/// A graph whose edges point from a dependency to its dependent.
#[derive(Debug, Clone)]
pub struct Dag<N> {
    g: DiGraph<N, ()>,
}

impl<N> Default for Dag<N> {
    fn default() -> Self {
        Dag { g: DiGraph::new() }
    }
}

impl<N> Dag<N> {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node.
    pub fn add(&mut self, n: N) -> NodeId {
        self.g.add_node(n)
    }

    /// Records that `node` depends on `dep`. Duplicate edges are ignored.
    pub fn depend(&mut self, node: NodeId, dep: NodeId) {
        self.g.update_edge(dep, node, ());
    }

    /// The node's payload.
    pub fn node(&self, id: NodeId) -> &N {
        &self.g[id]
    }

    /// Every node id.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.g.node_indices()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    /// True when there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }

    /// What `id` depends on directly.
    pub fn dependencies(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.g.neighbors_directed(id, Direction::Incoming)
    }

    /// What depends on `id` directly.
    pub fn dependents(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.g.neighbors_directed(id, Direction::Outgoing)
    }

    /// Nodes with dependencies first, or every cycle (each a list of its nodes).
    pub fn order(&self) -> Result<Vec<NodeId>, Vec<Vec<NodeId>>> {
        toposort(&self.g, None).map_err(|_| {
            tarjan_scc(&self.g)
                .into_iter()
                .filter(|c| c.len() > 1 || self.g.contains_edge(c[0], c[0]))
                .map(|mut c| {
                    c.reverse();
                    c
                })
                .collect()
        })
    }

    /// Graphviz DOT, with edges drawn from dependent to dependency as Terraform draws them.
    pub fn to_dot(&self, label: impl Fn(&N) -> String) -> String {
        let mut out = String::from(
            "digraph standby {\n  compound = \"true\"\n  newrank = \"true\"\n  rankdir = \"RL\"\n",
        );
        for id in self.g.node_indices() {
            let _ = writeln!(
                out,
                "  n{} [label = {:?}, shape = \"box\"]",
                id.index(),
                label(&self.g[id])
            );
        }
        for e in self.g.raw_edges() {
            let _ = writeln!(out, "  n{} -> n{}", e.target().index(), e.source().index());
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart drawn as the DOT form is: edges from dependent to dependency,
    /// right to left, so the two renderings of one graph read the same way.
    pub fn to_mermaid(&self, label: impl Fn(&N) -> String) -> String {
        let mut out = String::from("flowchart RL\n");
        for id in self.g.node_indices() {
            let _ = writeln!(
                out,
                "  n{}[\"{}\"]",
                id.index(),
                label(&self.g[id]).replace('"', "#quot;")
            );
        }
        for e in self.g.raw_edges() {
            let _ = writeln!(out, "  n{} --> n{}", e.target().index(), e.source().index());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first() {
        let mut g = Dag::new();
        let a = g.add("a");
        let b = g.add("b");
        let c = g.add("c");
        g.depend(c, b);
        g.depend(b, a);
        let order: Vec<_> = g.order().unwrap().into_iter().map(|i| *g.node(i)).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn reports_each_cycle_with_all_members() {
        let mut g = Dag::new();
        let a = g.add("a");
        let b = g.add("b");
        let c = g.add("c");
        let d = g.add("d");
        g.depend(a, b);
        g.depend(b, c);
        g.depend(c, a);
        g.depend(d, d);
        let cycles = g.order().unwrap_err();
        assert_eq!(cycles.len(), 2);
        let mut names: Vec<Vec<&str>> = cycles
            .iter()
            .map(|c| {
                let mut v: Vec<_> = c.iter().map(|i| *g.node(*i)).collect();
                v.sort();
                v
            })
            .collect();
        names.sort();
        assert_eq!(names, vec![vec!["a", "b", "c"], vec!["d"]]);
    }

    #[test]
    fn renders_dot_and_mermaid() {
        let mut g = Dag::new();
        let a = g.add("a");
        let b = g.add("b");
        g.depend(b, a);
        assert!(g.to_dot(|n| n.to_string()).contains("n1 -> n0"));
        // Both draw the dependent first (b depends on a).
        assert!(g.to_mermaid(|n| n.to_string()).contains("n1 --> n0"));
    }
}
