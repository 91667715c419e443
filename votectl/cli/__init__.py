"""The Typer CLI: one module per command group; each parses, calls, renders. No logic here."""
