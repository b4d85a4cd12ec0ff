"""The domain: what foureyes decides and remembers, with no HTTP and no SQL in it."""
