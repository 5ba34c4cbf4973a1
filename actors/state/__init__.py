"""Pure state classes: each decides what its actor does (`handle(msg, now) -> effects`), with no I/O."""
