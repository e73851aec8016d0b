"""Government services (the "N"): one package per service, discovered by ``govchain.sdk``."""
