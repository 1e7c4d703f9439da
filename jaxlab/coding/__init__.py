"""Description length: vectorized early-stopped SGD fits, block-wise prequential coding, lattice and categorical codes."""
