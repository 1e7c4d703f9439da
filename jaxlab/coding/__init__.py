"""Description length: prequential code lengths, block-wise SGD coding, lattice and categorical codes."""
