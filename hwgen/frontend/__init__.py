"""hwgen.frontend"""
