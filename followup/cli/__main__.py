"""`python -m followup.cli`: the same as the `followup` command."""

from followup.cli import main

main()
