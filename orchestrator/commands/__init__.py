"""One module per `hybrid-trader` command, each exposing `register(app)`."""
