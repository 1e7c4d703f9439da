"""jaxlab: vectorized meta-learning studies of in-context learning and description length."""
__version__ = "0.1.0"
