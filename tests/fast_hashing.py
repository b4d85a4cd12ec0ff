"""Cheap argon2 parameters for the suite, which hashes and checks many passwords. Production
keeps argon2-cffi's defaults (``Settings``); these make a hash take microseconds."""

from __future__ import annotations

FAST_HASHING = {"password_hash_time_cost": 1, "password_hash_memory_kib": 8, "password_hash_parallelism": 1}
# The same, for servers started as subprocesses.
FAST_HASHING_ENV = {f"FOUREYES_{name.upper()}": str(value) for name, value in FAST_HASHING.items()}
