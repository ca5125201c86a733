"""Tests of hwgen.synth: scripts, tools (with fake executables) and report parsers."""
