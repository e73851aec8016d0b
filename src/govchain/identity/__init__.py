"""Identity: department PKI, users, passwords, TOTP, lockout, access log and the OpenID Connect
provider logic (no web imports; ``api/`` adds the HTTP routes). See docs/identity.md."""
