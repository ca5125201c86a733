"""What a design costs: clock cycles per frame (cycle_model.py) and FPGA resources (resource_model.py)."""

from hwgen.estimate.cycle_model import cycles, throughput
from hwgen.estimate.resource_model import Resources, own_resources, resources, total_resources

__all__ = ["Resources", "cycles", "own_resources", "resources", "throughput", "total_resources"]
