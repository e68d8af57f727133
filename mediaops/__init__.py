"""MediaOps: cross-cutting pieces every process shares (settings, logging, the CLI)."""
