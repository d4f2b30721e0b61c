"""Tools agents call: HTTP tools declared in workflow files."""
