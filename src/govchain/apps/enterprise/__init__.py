"""Enterprise life cycle: registration, permits and deregistration."""
