"""The REPL: a prompt_toolkit front end over the library."""
