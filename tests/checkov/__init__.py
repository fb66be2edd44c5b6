# Makes this directory a package, as checkov requires of --external-checks-dir.
