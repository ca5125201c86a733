"""C simulation: compile generated C++ with g++ (compile.py) and run dataflow graphs (simulate.py)."""
