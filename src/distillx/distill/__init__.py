"""Distillation: losses, cached teacher outputs, and one module per method composing shared stages."""
