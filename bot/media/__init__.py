"""Media: photo intake, hosted photos, renderer, video probing, downloads, the SSRF guard."""
