"""The portal pages, one module per area."""
