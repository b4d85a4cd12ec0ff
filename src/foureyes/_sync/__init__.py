"""The sync SDK. Every module here is generated from `foureyes._async` by ``scripts/generate_sync``,
except ``connections``, which is written by hand (see `foureyes._async`)."""
