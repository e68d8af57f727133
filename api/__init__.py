"""The HTTP API: people start workflows, decide approvals, read state; platforms call back here."""
