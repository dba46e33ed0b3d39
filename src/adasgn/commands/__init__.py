"""One module per ``adasgn`` subcommand (auto-discovered by :mod:`adasgn.cli`)."""
