"""Ordering adapters: put submitted transactions into one total order of batches (blocks)."""
