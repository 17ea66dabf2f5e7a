"""Colour themes for the console, one TOML file each."""
