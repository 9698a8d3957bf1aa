"""Public statements: one set of facts rendered into every outlet in the same words."""
