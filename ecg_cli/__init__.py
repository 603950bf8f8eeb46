"""The `ecg` command line: one entry point, subcommands import their work lazily."""
