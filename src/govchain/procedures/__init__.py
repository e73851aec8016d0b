"""Service definitions, the case engine, registries and the working-day calendar."""
