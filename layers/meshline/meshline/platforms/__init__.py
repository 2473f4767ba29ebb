"""Shop-platform adapters: verify a webhook's signature and normalize its body to the canonical order."""
