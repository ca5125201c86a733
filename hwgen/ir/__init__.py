"""The dataflow graph: typed layers (layers.py), the graph (graph.py), numpy reference (reference.py)."""
