"""The unified portal (一网通办): server-rendered pages for citizens, enterprises and staff,
after one login through the node's own OpenID Connect provider."""
