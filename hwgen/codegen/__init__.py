"""hwgen.codegen"""
