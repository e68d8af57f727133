"""`python -m cli`: the same as the `mediaops` command."""

from cli.main import main

main()
