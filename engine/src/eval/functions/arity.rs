//! How many arguments each function takes, checked before any argument is evaluated, so a
//! call such as `join(",")` is an error at `validate` even when its arguments are unknown.

/// The fewest and the most arguments (`None`: any number more) `name` takes.
pub(super) fn arity(name: &str) -> (usize, Option<usize>) {
    match name {
        "timestamp" | "uuid" => (0, Some(0)),
        "coalesce" | "merge" | "try" => (0, None),
        "cidrsubnets" | "coalescelist" | "concat" | "format" | "formatlist" | "max" | "min"
        | "setintersection" | "setunion" => (1, None),
        "join" | "setproduct" => (2, None),
        "bcrypt" => (1, Some(2)),
        "lookup" => (2, Some(3)),
        "range" => (1, Some(3)),
        "cidrsubnet" | "matchkeys" | "replace" | "slice" | "substr" => (3, Some(3)),
        "chunklist" | "cidrhost" | "contains" | "element" | "endswith" | "fileset"
        | "formatdate" | "index" | "indent" | "log" | "parseint" | "pow" | "regex" | "regexall"
        | "rsadecrypt" | "setsubtract" | "split" | "startswith" | "templatefile"
        | "textdecodebase64" | "textencodebase64" | "timeadd" | "trim" | "trimprefix"
        | "trimsuffix" | "uuidv5" | "zipmap" => (2, Some(2)),
        _ => (1, Some(1)),
    }
}

/// The error for a call with `n` arguments, if that is a wrong number.
pub(super) fn check(name: &str, n: usize) -> Option<String> {
    let (min, max) = arity(name);
    let expected = match max {
        Some(m) if m == min => format!("{min}"),
        Some(m) => format!("{min} to {m}"),
        None => format!("at least {min}"),
    };
    let plural = if min == 1 && max.is_none_or(|m| m == 1) {
        ""
    } else {
        "s"
    };
    (n < min || max.is_some_and(|m| n > m))
        .then(|| format!("{name}() takes {expected} argument{plural}; this call has {n}."))
}
