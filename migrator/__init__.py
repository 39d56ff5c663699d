"""migrator: moves Linux code from struct module_layout to struct module_memory."""
