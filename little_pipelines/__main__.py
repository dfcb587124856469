"""`python -m little_pipelines` runs the `lp` command."""

from .cli import main

main()
