"""A demo that runs offline: a local HTTP server serving the real example sites, and helpers around it."""
