"""Reporting: result tables and plots."""
