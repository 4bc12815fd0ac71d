"""`python -m hotline.cli` is the `hotline` command."""

from hotline.cli.main import main

main()
