//! `--layer` patterns resolved against a model's layers, shared by every command that selects.

use super::{Model, TensorSite};
use std::collections::HashSet;

/// Why a `--layer` pattern matched nothing, with the closest names.
#[derive(Debug, thiserror::Error)]
#[error("no layer matches '{pattern}'{hint}")]
pub struct NoMatch {
    pub pattern: String,
    pub hint: String,
}

/// Resolves `--layer` patterns (exact name, tensor name, glob, or index) to tensor names, in
/// graph order. An empty list means every layer.
pub fn select_layers(model: &Model, patterns: &[String]) -> Result<Option<Vec<String>>, NoMatch> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut chosen: HashSet<usize> = HashSet::new();
    for pattern in patterns {
        let matched: Vec<&TensorSite> = if let Ok(index) = pattern.parse::<usize>() {
            model.sites.iter().filter(|s| s.index == index).collect()
        } else if let Some(site) = model
            .sites
            .iter()
            .find(|s| s.display == pattern.as_str() || s.tensor == *pattern)
        {
            vec![site]
        } else {
            match glob::Pattern::new(pattern) {
                Ok(p) => model
                    .sites
                    .iter()
                    .filter(|s| p.matches(&s.display) || p.matches(&s.tensor))
                    .collect(),
                Err(_) => Vec::new(),
            }
        };
        if matched.is_empty() {
            return Err(NoMatch {
                pattern: crate::text::sanitize(pattern),
                hint: near_matches(model, pattern),
            });
        }
        chosen.extend(matched.iter().map(|s| s.index));
    }
    Ok(Some(
        model
            .sites
            .iter()
            .filter(|s| chosen.contains(&s.index))
            .map(|s| s.tensor.clone())
            .collect(),
    ))
}

fn near_matches(model: &Model, pattern: &str) -> String {
    let lower = pattern.to_lowercase();
    let mut scored: Vec<(f64, &str)> = model
        .sites
        .iter()
        .map(|s| {
            let name = s.display.to_lowercase();
            let mut score = strsim::jaro_winkler(&lower, &name);
            if name.contains(&lower) {
                score += 0.5;
            }
            (score, s.display.as_str())
        })
        .filter(|(score, _)| *score > 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    if scored.is_empty() {
        format!("; `featscope layers {}` lists them", model.path.display())
    } else {
        let names: Vec<&str> = scored.iter().take(5).map(|(_, n)| *n).collect();
        format!("; did you mean: {}", names.join(", "))
    }
}
