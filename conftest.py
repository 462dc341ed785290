"""Makes the repository root importable for tests run from a plain checkout."""
