"""migrator: moves Linux C code from an old kernel API to a new one, as a migration pack describes."""
