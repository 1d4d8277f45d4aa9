"""The providers' documented limits (docs/providers.md): the defaults of PROVIDER_LIMITS."""

from __future__ import annotations

# provider -> (max concurrent tasks, max task creations per hour); 0 = no documented limit.
# Only apikley documents numbers: 25 concurrent tasks and 250 creations per hour per account.
DOCUMENTED_LIMITS: dict[str, tuple[int, int]] = {"apikley": (25, 250)}
HOUR_S = 3600.0
